// Podman's remote client starts an exec with a plain POST, not an upgrade (pkg/bindings/containers,
// ExecStartAndAttach): Podman answers `200 OK` with no length and then the raw stream, and the client writes
// stdin on the same connection and half-closes it. Behind Node's HTTP server that stdin would be parsed as the
// client's next request (and answered with a 400 in the middle of the stream), so `podman exec -i` could not work.
//
// So the first request line of each connection is read before Node's parser sees it. A libpod exec start gets
// two header lines after it, `Connection: Upgrade` and `Upgrade: tcp`: Node then hands the request to the
// 'upgrade' listener, which judges it like any exec start (the same edge, access and gate) and relays it raw.
// The relay leaves those two lines out of the head it writes upstream, so Podman answers as the client asked.
// Only the first request of a connection is looked at: that is where the podman client sends its exec start
// (a connection of its own, whose socket it keeps for stdin). A plain exec start later on a keep-alive
// connection goes through the HTTP route as before, output only.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { classifyTarget } from '../docker/target.js';

/** The header lines added after the request line, as Node reports them in rawHeaders. */
export const ADDED_HEADERS: readonly string[] = ['Connection', 'Upgrade', 'Upgrade', 'tcp'];
const ADDED_BYTES = Buffer.from(`${ADDED_HEADERS[0]}: ${ADDED_HEADERS[1]}\r\n${ADDED_HEADERS[2]}: ${ADDED_HEADERS[3]}\r\n`, 'latin1');
/** A request line longer than this is left to Node (it answers 414/431). */
const MAX_REQUEST_LINE = 16 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);

/** True for the request line of a libpod exec start (`POST /vX/libpod/exec/{id}/start HTTP/1.1`). Pure. */
export function isPlainExecStart(requestLine: string): boolean {
  const match = /^POST (\S+) HTTP\/1\.1\r?$/.exec(requestLine);
  if (match === null) return false;
  const target = classifyTarget('POST', match[1]!);
  return target.kind === 'exec' && target.action === 'start' && target.api === 'libpod';
}

/** `bytes` with the added header lines after the request line that ends at `lineEnd` (its `\n`). Pure. */
export function withUpgradeHeaders(bytes: Buffer, lineEnd: number): Buffer {
  return Buffer.concat([bytes.subarray(0, lineEnd + 1), ADDED_BYTES, bytes.subarray(lineEnd + 1)]);
}

/** rawHeaders without the added lines, if they are there (they come first). Pure. */
export function withoutAddedHeaders(rawHeaders: readonly string[]): readonly string[] {
  const added = ADDED_HEADERS.every((value, i) => rawHeaders[i] === value);
  return added ? rawHeaders.slice(ADDED_HEADERS.length) : rawHeaders;
}

export interface PlainStarts {
  /** Whether the upgrade on `socket` is a plain exec start docker-sieve made one (asked once per socket). */
  take(socket: Socket): boolean;
  /** Connections still waiting for their first line. */
  readonly waiting: ReadonlySet<Socket>;
}

/**
 * Puts a reader of the first request line in front of `server`'s own connection listeners (Node's HTTP parser
 * among them). `headersTimeoutMs`: a connection that sends no line in that time is handed on as it is, and
 * Node's own headers timeout takes over.
 */
export function interceptPlainExecStarts(server: Server, headersTimeoutMs: number, starts = createPlainStarts()): PlainStarts {
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection';
  const listeners = server.listeners(event) as Array<(socket: Socket) => void>;
  server.removeAllListeners(event);
  const marked = starts as PlainStartsState;
  server.on(event, (socket: Socket) => {
    marked.waitingSet.add(socket);
    readFirstLine(socket, headersTimeoutMs, (bytes, plain) => {
      marked.waitingSet.delete(socket);
      if (plain) marked.sockets.add(socket);
      // Paused, so that Node's listener attaches its parser before any byte flows; then the bytes read so far
      // go first, and the socket flows on into the parser.
      socket.pause();
      if (bytes.length > 0) socket.unshift(bytes);
      for (const listener of listeners) listener.call(server, socket);
      if (!socket.destroyed) socket.resume();
    }, () => marked.waitingSet.delete(socket));
  });
  return starts;
}

interface PlainStartsState extends PlainStarts {
  readonly sockets: WeakSet<Socket>;
  readonly waitingSet: Set<Socket>;
}

export function createPlainStarts(): PlainStarts {
  const sockets = new WeakSet<Socket>();
  const waitingSet = new Set<Socket>();
  const state: PlainStartsState = {
    sockets,
    waitingSet,
    waiting: waitingSet,
    take(socket) {
      const plain = sockets.has(socket);
      sockets.delete(socket);
      return plain;
    },
  };
  return state;
}

/** Reads until the first `\n` (or the bound, the end, a timeout), then calls `done` once with what was read. */
function readFirstLine(socket: Socket, timeoutMs: number, done: (bytes: Buffer, plain: boolean) => void, abandon: () => void): void {
  let seen: Buffer = EMPTY;
  let finished = false;
  const finish = (bytes: Buffer, plain: boolean): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onStop);
    socket.off('close', onStop);
    socket.off('error', onStop);
    done(bytes, plain);
  };
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const lineEnd = seen.indexOf(0x0a);
    if (lineEnd === -1) {
      if (seen.length > MAX_REQUEST_LINE) finish(seen, false);
      return;
    }
    const plain = isPlainExecStart(seen.subarray(0, lineEnd).toString('latin1'));
    finish(plain ? withUpgradeHeaders(seen, lineEnd) : seen, plain);
  };
  // The connection ended or failed before a whole request line: no request to answer (Node, attached now, would
  // never see that end).
  const onStop = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    abandon();
    socket.destroy();
  };
  const timer = setTimeout(() => finish(seen, false), timeoutMs);
  timer.unref();
  socket.on('data', onData);
  socket.once('end', onStop);
  socket.once('close', onStop);
  socket.once('error', onStop);
}
