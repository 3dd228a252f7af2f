// HTTP/1.1 framing for the relay, without decoding a body: where a request or an answer ends, the answer head,
// and the request head docker-sieve writes upstream. Pure functions, tested on tables (test/unit/hijack.test.ts).
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

const MAX_CHUNK_LINE = 8 * 1024;

/** The client's request head, with the judged path and the upstream's Host; every other header as received. */
export function requestHead(request: IncomingMessage, pathWithQuery: string, host: string, raw: readonly string[] = request.rawHeaders): Buffer {
  const lines = [`${request.method ?? 'GET'} ${pathWithQuery} HTTP/${request.httpVersion}`];
  let hostWritten = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.toLowerCase() === 'host') {
      if (hostWritten) continue;
      hostWritten = true;
      lines.push(`${name}: ${host}`);
      continue;
    }
    lines.push(`${name}: ${raw[i + 1]!}`);
  }
  if (!hostWritten) lines.splice(1, 0, `Host: ${host}`);
  // Node read the header bytes as latin1: writing them back as latin1 restores them exactly.
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

export interface BodyEnd {
  /** How many bytes at the start of `chunk` belong to the body: all of them until its end is reached. */
  take(chunk: Buffer): number;
  readonly done: boolean;
}

export function fixedLengthBody(length: number): BodyEnd {
  let remaining = length;
  return {
    take(chunk) {
      const n = Math.min(remaining, chunk.length);
      remaining -= n;
      return n;
    },
    get done() {
      return remaining === 0;
    },
  };
}

/** RFC 9112 7.1: chunk-size [ext] CRLF, data CRLF, ..., 0 CRLF, trailers, CRLF. Throws on a malformed body. */
export function chunkedBody(): BodyEnd {
  let state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  let line = '';
  let remaining = 0;
  return {
    get done() {
      return state === 'done';
    },
    take(chunk) {
      let i = 0;
      while (i < chunk.length && state !== 'done') {
        if (state === 'data') {
          const n = Math.min(remaining, chunk.length - i);
          i += n;
          remaining -= n;
          if (remaining === 0) state = 'data-end';
          continue;
        }
        const byte = chunk[i++]!;
        if (byte !== 0x0a) {
          if (line.length >= MAX_CHUNK_LINE) throw new Error('chunked body: line too long');
          line += String.fromCharCode(byte);
          continue;
        }
        const text = line.endsWith('\r') ? line.slice(0, -1) : line;
        line = '';
        if (state === 'size') {
          const match = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(text);
          if (match === null) throw new Error('chunked body: malformed chunk size');
          const size = Number.parseInt(match[1]!, 16);
          if (size === 0) state = 'trailer';
          else {
            remaining = size;
            state = 'data';
          }
        } else if (state === 'data-end') {
          if (text !== '') throw new Error('chunked body: chunk data not followed by CRLF');
          state = 'size';
        } else if (text === '') {
          state = 'done';
        }
      }
      return i;
    },
  };
}

/** The request's body, as Node parsed its headers; undefined for framing we would not agree on with the upstream. */
export function requestBodyEnd(headers: IncomingHttpHeaders): BodyEnd | undefined {
  const transferEncoding = headers['transfer-encoding'];
  const contentLength = headers['content-length'];
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) return undefined;
    const codings = transferEncoding.split(',').map((coding) => coding.trim().toLowerCase());
    return codings.at(-1) === 'chunked' ? chunkedBody() : undefined;
  }
  if (contentLength === undefined) return fixedLengthBody(0);
  return /^[0-9]{1,15}$/.test(contentLength) ? fixedLengthBody(Number(contentLength)) : undefined;
}

export interface ResponseHead {
  readonly status: number;
  /** Lower-case names; repeated headers keep every value. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
}

export function parseResponseHead(text: string): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] ([0-9]{3})(?: |$)/.exec(lines[0] ?? '');
  if (status === null) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = headers.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    headers.set(name, values);
  }
  return { status: Number(status[1]), headers };
}

/** The body of a final answer that is not a 101; 'close' when it ends with the connection; undefined if malformed. */
export function responseBodyEnd(method: string, head: ResponseHead): BodyEnd | 'close' | undefined {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return fixedLengthBody(0);
  const transferEncoding = head.headers.get('transfer-encoding');
  if (transferEncoding !== undefined) {
    const codings = transferEncoding.join(',').split(',').map((coding) => coding.trim().toLowerCase());
    return codings.at(-1) === 'chunked' ? chunkedBody() : 'close';
  }
  const contentLength = head.headers.get('content-length');
  if (contentLength === undefined) return 'close';
  const values = new Set(contentLength.join(',').split(',').map((value) => value.trim()));
  if (values.size !== 1) return undefined;
  const [value] = values;
  return /^[0-9]{1,15}$/.test(value!) ? fixedLengthBody(Number(value)) : undefined;
}
