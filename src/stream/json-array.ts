// Splits a streamed JSON array into its top-level elements, as the exact bytes the upstream sent.
// Pure and incremental: chunks may split anywhere (inside strings, escapes, multi-byte characters), and memory
// is bounded by the largest single element. It checks structure only (brackets, strings, commas); each element
// is meant to be JSON.parse'd by its consumer, which catches anything else that is malformed.
//
// It is on the hot path of every `GET /containers/json`, so the scan keeps its state in locals and runs tight
// loops over the bytes: through a string it only looks for `"` and `\`, and between strings only for quotes and
// brackets. Multi-byte UTF-8 never contains a byte below 0x80, so scanning bytes is safe.

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
  /** The last byte seen was a backslash inside a string: the next byte is escaped. */
  private escaped = false;
  /** The element is a bare scalar (number, true, false, null): it ends at a delimiter, not a bracket. */
  private scalar = false;
  private pending: Buffer[] = [];

  constructor(private readonly onElement: (element: Buffer) => void) {}

  get done(): boolean {
    return this.state === State.Done;
  }

  write(chunk: Buffer): void {
    const length = chunk.length;
    let state = this.state;
    let depth = this.depth;
    let inString = this.inString;
    let scalar = this.scalar;
    let i = 0;
    let start = -1; // where the element under way starts in this chunk
    if (state === State.Element) {
      start = 0;
      if (this.escaped && length > 0) {
        this.escaped = false;
        i = 1;
      }
    }
    while (i < length) {
      if (state === State.Element) {
        // The hot loop: everything inside an element.
        let ended = -1;
        if (scalar) {
          for (; i < length; i++) {
            const byte = chunk[i]!;
            if (byte === COMMA || byte === CLOSE_BRACKET || isWhitespace(byte)) {
              ended = i; // the delimiter belongs to the array: look at it again
              break;
            }
          }
        } else {
          while (i < length) {
            if (inString) {
              let byte = chunk[i]!;
              while (byte !== QUOTE && byte !== BACKSLASH) {
                if (++i === length) break;
                byte = chunk[i]!;
              }
              if (i === length) break;
              if (byte === BACKSLASH) {
                i += 2;
                if (i > length) {
                  this.escaped = true; // the escaped byte is in the next chunk
                  i = length;
                }
                continue;
              }
              inString = false;
              i++;
              if (depth === 0) {
                ended = i; // a string element ends here
                break;
              }
              continue;
            }
            const byte = chunk[i++]!;
            if (byte === QUOTE) inString = true;
            else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
            else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
              if (--depth === 0) {
                ended = i;
                break;
              }
            }
          }
        }
        if (ended === -1) break; // the element goes on in the next chunk
        state = State.AfterElement;
        this.emit(chunk, start, ended);
        i = ended;
        continue;
      }
      const byte = chunk[i]!;
      switch (state) {
        case State.BeforeArray:
          if (byte === OPEN_BRACKET) state = State.FirstElementOrEnd;
          else if (!isWhitespace(byte)) throw new MalformedJsonError('expected a JSON array');
          break;
        case State.FirstElementOrEnd:
        case State.NextElement:
          if (isWhitespace(byte)) break;
          if (byte === CLOSE_BRACKET && state === State.FirstElementOrEnd) {
            state = State.Done;
            break;
          }
          if (byte === COMMA || byte === CLOSE_BRACKET || byte === CLOSE_BRACE) {
            throw new MalformedJsonError('expected an array element');
          }
          start = i;
          state = State.Element;
          scalar = false;
          inString = false;
          depth = 0;
          if (byte === QUOTE) inString = true;
          else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth = 1;
          else {
            scalar = true;
            break; // the scalar's first byte is looked at again by the element loop
          }
          i++;
          continue;
        case State.AfterElement:
          if (byte === COMMA) state = State.NextElement;
          else if (byte === CLOSE_BRACKET) state = State.Done;
          else if (!isWhitespace(byte)) throw new MalformedJsonError('expected "," or "]" after an element');
          break;
        case State.Done:
          if (!isWhitespace(byte)) throw new MalformedJsonError('data after the end of the array');
          break;
      }
      if (state !== State.Element) i++;
    }
    this.state = state;
    this.depth = depth;
    this.inString = inString;
    this.scalar = scalar;
    if (state === State.Element) this.pending.push(start <= 0 ? chunk : chunk.subarray(start));
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
