// Splits a streamed JSON array into its top-level elements, as the exact bytes the upstream sent.
// Pure and incremental: chunks may split anywhere (inside strings, escapes, multi-byte characters), and memory
// is bounded by the largest single element. It checks structure only (brackets, strings, commas); each element
// is meant to be JSON.parse'd by its consumer, which catches anything else that is malformed.

export class MalformedJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedJsonError';
  }
}

const enum State {
  BeforeArray,
  FirstElementOrEnd,
  Element,
  AfterElement,
  NextElement,
  Done,
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

export class JsonArraySplitter {
  private state = State.BeforeArray;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The element is a bare scalar (number, true, false, null): it ends at a delimiter, not a bracket. */
  private scalar = false;
  private pending: Buffer[] = [];

  constructor(private readonly onElement: (element: Buffer) => void) {}

  get done(): boolean {
    return this.state === State.Done;
  }

  write(chunk: Buffer): void {
    let start = -1; // where the element under way starts in this chunk
    if (this.state === State.Element) start = 0;
    const length = chunk.length;
    for (let i = 0; i < length; i++) {
      const byte = chunk[i]!;
      switch (this.state) {
        case State.Element: {
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (byte === BACKSLASH) this.escaped = true;
            else if (byte === QUOTE) {
              this.inString = false;
              if (this.depth === 0) this.emit(chunk, start, i + 1); // a string element ends here
            }
          } else if (this.scalar) {
            if (byte === COMMA || byte === CLOSE_BRACKET || isWhitespace(byte)) {
              this.emit(chunk, start, i);
              i--; // the delimiter belongs to the array: look at it again
            }
          } else if (byte === QUOTE) this.inString = true;
          else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
          else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
            this.depth--;
            if (this.depth === 0) this.emit(chunk, start, i + 1);
          }
          break;
        }
        case State.BeforeArray:
          if (byte === OPEN_BRACKET) this.state = State.FirstElementOrEnd;
          else if (!isWhitespace(byte)) throw new MalformedJsonError('expected a JSON array');
          break;
        case State.FirstElementOrEnd:
        case State.NextElement:
          if (isWhitespace(byte)) break;
          if (byte === CLOSE_BRACKET && this.state === State.FirstElementOrEnd) {
            this.state = State.Done;
            break;
          }
          if (byte === COMMA || byte === CLOSE_BRACKET || byte === CLOSE_BRACE) {
            throw new MalformedJsonError('expected an array element');
          }
          start = i;
          this.state = State.Element;
          this.scalar = false;
          this.depth = 0;
          if (byte === QUOTE) this.inString = true;
          else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth = 1;
          else this.scalar = true;
          break;
        case State.AfterElement:
          if (byte === COMMA) this.state = State.NextElement;
          else if (byte === CLOSE_BRACKET) this.state = State.Done;
          else if (!isWhitespace(byte)) throw new MalformedJsonError('expected "," or "]" after an element');
          break;
        case State.Done:
          if (!isWhitespace(byte)) throw new MalformedJsonError('data after the end of the array');
          break;
      }
    }
    if (this.state === State.Element) this.pending.push(start <= 0 ? chunk : chunk.subarray(start));
  }

  /** Call when the input ends: a truncated array is an error, never a silently shorter list. */
  end(): void {
    if (this.state !== State.Done) throw new MalformedJsonError('the JSON array is truncated');
  }

  private emit(chunk: Buffer, start: number, end: number): void {
    let element: Buffer;
    if (this.pending.length === 0) element = chunk.subarray(start, end);
    else {
      this.pending.push(chunk.subarray(start, end));
      element = Buffer.concat(this.pending);
      this.pending = [];
    }
    this.state = State.AfterElement;
    this.onElement(element);
  }
}
