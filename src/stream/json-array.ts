// Splits a streamed JSON array into its top-level elements, as the exact bytes the upstream sent.
// Pure and incremental: chunks may split anywhere (inside strings, escapes, multi-byte characters), and memory
// is bounded by the largest single element. It checks structure only (brackets, strings, commas); each element
// is meant to be JSON.parse'd by its consumer, which catches anything else that is malformed.
//
// With `members: true` it also finds the top-level members of each object element on the way (where each key
// and value lies in the element's bytes, with the `{"key": value, ...}` grammar checked), so a consumer can
// JSON.parse only the values it needs instead of the whole element.
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

/** Where the scan is in the members of an object element, at depth 1. */
const enum Member {
  /** Not tracking: the element is not an object, or members were not asked for. */
  Off,
  /** After `{`: a key or `}`. */
  FirstKeyOrEnd,
  /** After `,`: a key. */
  Key,
  /** Inside a key's string. */
  InKey,
  /** After a key: `:`. */
  Colon,
  /** After `:`: the value's first byte. */
  Value,
  /** Inside the value, until `,` or `}` at depth 1. */
  InValue,
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * The top-level members of the object element just emitted, as offsets into its bytes. Valid only during the
 * `onElement` call: the splitter reuses it for the next element.
 */
export class ObjectMembers {
  /** Member k: key start and end (without the quotes), value start and end (whitespace included). */
  spans = new Int32Array(64);
  count = 0;
  /** Some key holds a `\` escape: its bytes are not its value, so look it up with JSON.parse instead. */
  escapedKeys = false;

  /**
   * The bytes of the value of the last member named `key` (JSON.parse keeps the last of duplicate keys), or
   * undefined if there is none. `key` must be plain ASCII, without anything JSON would escape.
   */
  value(element: Buffer, key: Buffer): Buffer | undefined {
    const spans = this.spans;
    const length = key.length;
    for (let k = this.count - 1; k >= 0; k--) {
      const keyStart = spans[4 * k]!;
      if (spans[4 * k + 1]! - keyStart !== length) continue;
      let same = true;
      for (let j = 0; j < length; j++) {
        if (element[keyStart + j] !== key[j]) {
          same = false;
          break;
        }
      }
      if (same) return element.subarray(spans[4 * k + 2]!, spans[4 * k + 3]!);
    }
    return undefined;
  }

  /** @internal */
  add(keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void {
    let at = this.count * 4;
    if (at + 4 > this.spans.length) {
      const grown = new Int32Array(this.spans.length * 2);
      grown.set(this.spans);
      this.spans = grown;
    }
    const spans = this.spans;
    spans[at++] = keyStart;
    spans[at++] = keyEnd;
    spans[at++] = valueStart;
    spans[at] = valueEnd;
    this.count++;
  }

  /** @internal */
  reset(): void {
    this.count = 0;
    this.escapedKeys = false;
    // A huge element once must not pin a huge array for the rest of the stream.
    if (this.spans.length > 1024) this.spans = new Int32Array(64);
  }
}

export interface SplitterOptions {
  /** Find the top-level members of object elements (see ObjectMembers). */
  readonly members?: boolean;
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
  /** Bytes of the element under way held in `pending`. */
  private pendingBytes = 0;
  private readonly trackMembers: boolean;
  private member = Member.Off;
  /** Element offsets of the member under way: key start, key end, value start. */
  private keyStart = 0;
  private keyEnd = 0;
  private valueStart = 0;
  private readonly members = new ObjectMembers();
  private offset = -1;

  constructor(
    private readonly onElement: (element: Buffer, members: ObjectMembers | undefined) => void,
    options: SplitterOptions = {},
  ) {
    this.trackMembers = options.members === true;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  write(chunk: Buffer): void {
    const length = chunk.length;
    let state = this.state;
    let depth = this.depth;
    let inString = this.inString;
    let scalar = this.scalar;
    let member = this.member;
    let i = 0;
    let start = -1; // where the element under way starts in this chunk
    let base = 0; // the element offset of chunk[0]
    if (state === State.Element) {
      start = 0;
      base = this.pendingBytes;
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
                if (member === Member.InKey) this.members.escapedKeys = true;
                i += 2;
                if (i > length) {
                  this.escaped = true; // the escaped byte is in the next chunk
                  i = length;
                }
                continue;
              }
              inString = false;
              if (member === Member.InKey) {
                this.keyEnd = base + i;
                member = Member.Colon;
              }
              i++;
              if (depth === 0) {
                ended = i; // a string element ends here
                break;
              }
              continue;
            }
            const byte = chunk[i++]!;
            if (byte === QUOTE) {
              inString = true;
              if (member !== Member.Off && depth === 1) {
                if (member === Member.FirstKeyOrEnd || member === Member.Key) {
                  this.keyStart = base + i;
                  member = Member.InKey;
                } else if (member === Member.Value) member = Member.InValue;
                else if (member === Member.Colon) throw new MalformedJsonError('expected ":" after a key');
              }
            } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
              if (member !== Member.Off && depth === 1) {
                if (member === Member.Value) member = Member.InValue;
                else if (member !== Member.InValue) throw new MalformedJsonError('expected a key');
              }
              depth++;
            } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
              if (--depth === 0) {
                if (member !== Member.Off) {
                  if (byte !== CLOSE_BRACE) throw new MalformedJsonError('an object ends with "]"');
                  if (member === Member.InValue) this.members.add(this.keyStart, this.keyEnd, this.valueStart, base + i - 1);
                  else if (member !== Member.FirstKeyOrEnd) throw new MalformedJsonError('an object ends where a member is expected');
                }
                ended = i;
                break;
              }
            } else if (member !== Member.Off && depth === 1) {
              // Between strings at the top level of an object: colons, commas, whitespace and bare scalars.
              if (byte === COMMA) {
                if (member !== Member.InValue) throw new MalformedJsonError('unexpected "," in an object');
                this.members.add(this.keyStart, this.keyEnd, this.valueStart, base + i - 1);
                member = Member.Key;
              } else if (byte === COLON) {
                if (member !== Member.Colon) throw new MalformedJsonError('unexpected ":" in an object');
                this.valueStart = base + i;
                member = Member.Value;
              } else if (!isWhitespace(byte)) {
                if (member === Member.Value) member = Member.InValue;
                else if (member !== Member.InValue) throw new MalformedJsonError('expected a key');
              }
            }
          }
        }
        if (ended === -1) break; // the element goes on in the next chunk
        state = State.AfterElement;
        this.emit(chunk, start, ended, member === Member.Off ? undefined : this.members);
        member = Member.Off;
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
          base = -i;
          state = State.Element;
          scalar = false;
          inString = false;
          depth = 0;
          if (byte === QUOTE) inString = true;
          else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
            depth = 1;
            if (byte === OPEN_BRACE && this.trackMembers) {
              member = Member.FirstKeyOrEnd;
              this.members.reset();
            }
          } else {
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
    this.member = member;
    if (state === State.Element) {
      const rest = start <= 0 ? chunk : chunk.subarray(start);
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
  }

  /** Call when the input ends: a truncated array is an error, never a silently shorter list. */
  end(): void {
    if (this.state !== State.Done) throw new MalformedJsonError('the JSON array is truncated');
  }

  /**
   * Where the element being handed to `onElement` starts in the chunk being written, or -1 when it came in
   * more than one chunk (and is a copy). Lets a consumer pass on runs of the chunk without copying them.
   */
  get elementOffset(): number {
    return this.offset;
  }

  private emit(chunk: Buffer, start: number, end: number, members: ObjectMembers | undefined): void {
    let element: Buffer;
    this.offset = this.pending.length === 0 ? start : -1;
    if (this.pending.length === 0) element = chunk.subarray(start, end);
    else {
      this.pending.push(chunk.subarray(start, end));
      element = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.state = State.AfterElement;
    this.onElement(element, members);
  }
}
