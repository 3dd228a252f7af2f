// Splits a byte stream into `\n`-terminated records, whatever the chunking. Pure and incremental: memory is
// bounded by the longest record. Records are handed over with their terminator, exactly as they came.

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly onLine: (line: Buffer) => void,
    private readonly maxLineBytes = 16 * 1024 * 1024,
  ) {}

  write(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(0x0a, start);
    while (newline !== -1) {
      const piece = chunk.subarray(start, newline + 1);
      if (this.pending.length === 0) this.onLine(piece);
      else {
        this.pending.push(piece);
        const line = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingBytes = 0;
        this.onLine(line);
      }
      start = newline + 1;
      newline = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) throw new Error(`a record exceeds ${this.maxLineBytes} bytes`);
    }
  }

  /** Bytes after the last newline: a record cut off by the end of the stream. */
  get rest(): number {
    return this.pendingBytes;
  }
}
