// The HTTP upgrade of exec and attach: `docker exec`, `docker attach`, dockerode's `hijack: true`, attach over a
// websocket. Node hands a request with `Connection: Upgrade` to the server's 'upgrade' listener with the raw
// socket; Fastify never sees it (no route, no hooks). So the request is judged here like its HTTP route, with
// the same resolver and exec gate, and only then relayed on a connection of its own to the upstream:
//
//   client ── request head (path := judged full ID, Host := upstream) + body ──► upstream
//   client ◄── the upstream's answer, byte for byte (the 101 exactly as the daemon wrote it) ── upstream
//   then, after a 101, raw bytes both ways, each direction closed on its own (stdin EOF still gets the output).
//
// The relay understands just enough HTTP to stay a relay of one exchange. The request body (exec start's
// `{"Detach":false,"Tty":false}`) is forwarded as bytes, but framed by its Content-Length or chunked encoding,
// and anything the client sends after it is held back until the upstream has answered. Only a 101 (or an answer
// without length, after which the upstream cannot read another request) lets those bytes through. Any other
// answer (a 404 because the exec went away, a 200 to a detached exec start, a socket proxy's 403) is relayed
// and then the connection is closed: a raw tunnel left open on a keep-alive connection would let the client's
// next request reach the upstream without any gate.
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Sieve } from './sieve.js';
import { classifyTarget, containerPath, type ApiVersion, type Target } from './docker/target.js';
import { dockerError, noSuchContainer, noSuchExec, notAllowedClient, type DockerErrorReply } from './docker/errors.js';
import { LookupError } from './lookup.js';
import type { Profile } from './profile.js';
import { auditView } from './profile.js';
import { admit } from './routes.js';
import { allowedSource, resolveClient } from './edge/client.js';
import { connectRawUpstream, readUpstreamTls, upstreamHostHeader, type RawConnectOptions } from './upstream.js';

export interface HijackOptions {
  /** Connecting to the upstream; a client waits at most this long for its 502. Default: UPSTREAM_CONNECT_TIMEOUT. */
  readonly connectTimeoutMs?: number;
  /** TLS material for an https upstream (a CA, a client certificate). Default: read from PROXY_CA/CERT/KEY. */
  readonly upstreamTls?: RawConnectOptions['tls'];
  /** After docker-sieve has said its last word, how long a client may keep its half of the connection open. */
  readonly lingerMs?: number;
}

export interface Hijack {
  /** The server's 'upgrade' listener. */
  readonly onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * Refuses new upgrades, and cuts those in progress after `graceMs`: the server cannot finish closing while
   * they are open (they are no longer its HTTP connections, so closeAllConnections() does not reach them).
   */
  close(graceMs?: number): void;
  /** Cuts the sessions (the client and its tunnel) whose profile `stale` says has changed: a reload. */
  closeSessions(stale: (profile: Profile) => boolean): number;
}

/** What the gate decided: relay to `path`, or answer the client ourselves. */
type Plan = { readonly kind: 'relay'; readonly path: string } | Answer;

interface Answer {
  readonly kind: 'answer';
  readonly decision: string;
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** The longest upstream answer head (status line and headers) docker-sieve reads before giving up. */
const MAX_RESPONSE_HEAD = 64 * 1024;
const MAX_CHUNK_LINE = 8 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);

export function createHijack(sieve: Sieve, log: FastifyBaseLogger, options: HijackOptions = {}): Hijack {
  const connectTimeoutMs = options.connectTimeoutMs ?? sieve.config.timeouts.upstreamConnectMs;
  const upstreamTls = options.upstreamTls ?? readUpstreamTls(sieve.config.upstreamTls);
  const lingerMs = options.lingerMs ?? 5_000;
  const live = new Set<Duplex>();
  /** The client side of each session, with the profile it was judged by. */
  const sessions = new Map<Duplex, Profile>();
  let closed = false;

  function track(socket: Duplex): void {
    live.add(socket);
    socket.once('close', () => live.delete(socket));
  }

  function onUpgrade(request: IncomingMessage, client: Duplex, head: Buffer): void {
    // Node took its own listeners off the socket: without this, a reset by the client would crash the process.
    client.on('error', () => client.destroy());
    // `docker exec -i` closes its sending half at stdin's EOF and still reads the output. Plain HTTP sockets
    // allow that already; those of an HTTPS server do not, unless told.
    client.allowHalfOpen = true;
    track(client);
    if (closed) {
      answer(client, answerWith('refused', dockerError(503, 'docker-sieve: shutting down', undefined)), sieve, lingerMs);
      log.info({ method: request.method, path: request.url, upgrade: request.headers.upgrade, status: 503, decision: 'refused' }, 'request');
      return;
    }
    handle(request, client, head).catch((error: Error) => {
      log.error({ err: error.message, method: request.method, path: request.url }, 'upgrade failed');
      client.destroy();
    });
  }

  async function handle(request: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const method = request.method ?? 'GET';
    const url = request.url ?? '/';
    const target = classifyTarget(method, url);
    let profile: Profile | undefined;
    let clientName = 'none';
    let audit = '';
    const logLine = (status: number | undefined, decision: string, extra: Record<string, unknown> = {}): void => {
      const logged = audit !== '' && decision !== 'upstream-error' ? audit : decision;
      sieve.metrics?.observeRequest(target.kind, logged, profile?.name ?? 'none');
      log.info(
        {
          method,
          path: url,
          upgrade: request.headers.upgrade,
          status,
          durationMs: Math.round((performance.now() - started) * 100) / 100,
          decision: logged,
          profile: profile?.name ?? 'none',
          client: clientName,
          ...extra,
        },
        'request',
      );
    };

    let plan: Plan;
    // ALLOW_FROM and the edge are onRequest hooks, which an upgrade never reaches: the same checks, here.
    const edge = resolveClient(sieve.current(), request);
    if (!allowedSource(sieve.allowlist, request.socket as Socket)) {
      log.warn({ client: request.socket.remoteAddress }, 'client not in ALLOW_FROM');
      plan = answerWith('refused', notAllowedClient());
    } else if (edge.kind === 'refuse') {
      plan = answerWith('refused', edge.error);
    } else {
      clientName = edge.client;
      sessions.set(client, edge.profile);
      client.once('close', () => sessions.delete(client));
      profile = edge.profile.mode === 'audit' ? auditView(edge.profile, () => (audit ||= 'would-hide')) : edge.profile;
      const admission = admit(profile, method, target);
      if (admission.kind === 'refuse') plan = answerWith('refused', admission.error);
      else {
        if (admission.kind === 'would-refuse') audit = 'would-refuse';
        plan = await judge(sieve, profile, target);
      }
    }
    if (plan.kind === 'relay' && requestBodyEnd(request.headers) === undefined) {
      plan = answerWith('refused', dockerError(400, 'docker-sieve: unsupported request framing', target.version));
    }
    if (client.destroyed) {
      logLine(undefined, plan.kind === 'answer' ? plan.decision : 'passed', { clientClosed: true });
      return;
    }
    if (plan.kind === 'answer') {
      answer(client, plan, sieve, lingerMs);
      logLine(plan.status, plan.decision);
      return;
    }

    let upstream: Socket;
    try {
      upstream = await connectRawUpstream(sieve.config.upstream, { timeoutMs: connectTimeoutMs, tls: upstreamTls });
    } catch (error) {
      const message = (error as Error).message;
      log.warn({ err: message }, 'upstream connection failed');
      if (!client.destroyed) {
        answer(client, answerWith('upstream-error', dockerError(502, `docker-sieve: upstream unavailable: ${message}`, target.version)), sieve, lingerMs);
      }
      logLine(502, 'upstream-error');
      return;
    }
    if (client.destroyed) {
      upstream.destroy();
      logLine(undefined, 'passed', { clientClosed: true });
      return;
    }
    track(upstream);
    const pathWithQuery = sieve.upstream.pathPrefix + plan.path + (target.query === '' ? '' : `?${target.query}`);
    relay({
      request,
      client,
      head,
      upstream,
      requestHead: requestHead(request, pathWithQuery, upstreamHostHeader(sieve.config.upstream)),
      version: target.version,
      sieve,
      lingerMs,
      onFinish: (status, decision, extra) => logLine(status, decision, extra),
    });
  }

  return {
    onUpgrade,
    closeSessions(stale) {
      let cut = 0;
      for (const [client, profile] of sessions) {
        if (!stale(profile)) continue;
        client.destroy();
        cut++;
      }
      return cut;
    },
    close(graceMs = 0) {
      closed = true;
      const cut = (): void => {
        for (const socket of live) socket.destroy();
        live.clear();
      };
      if (graceMs <= 0) cut();
      else setTimeout(cut, graceMs).unref();
    },
  };
}

function answerWith(decision: string, error: DockerErrorReply): Answer {
  return { kind: 'answer', decision, status: error.status, contentType: error.contentType, body: Buffer.from(error.body) };
}

const NOT_UPGRADABLE = 'docker-sieve: this endpoint cannot be upgraded (only attach and exec start are)';

/** The same gate as the HTTP routes: nothing about a container is forwarded before it is judged visible. */
export async function judge(sieve: Sieve, profile: Profile, target: Target): Promise<Plan> {
  const { version } = target;
  if (!profile.policy.filtering && target.path !== undefined) {
    // Nothing to hide: relayed as it came, as the HTTP routes forward it (routes.ts).
    return { kind: 'relay', path: target.path };
  }
  switch (target.kind) {
    case 'refuse':
      return answerWith('refused', dockerError(target.status, target.message, version));
    case 'unfiltered':
      return answerWith('refused', dockerError(403, target.message, version));
    case 'pass':
      // Upgrades that name no container (BuildKit's /session and /grpc) are the socket proxy's business
      // (its SESSION and GRPC switches), like every other route that passes: they are relayed unchanged.
      return { kind: 'relay', path: target.path };
    case 'container': {
      // attach is POST and attach/ws is GET only: classifyTarget has checked the method.
      if (target.action !== 'attach' && target.action !== 'attach/ws') {
        // Its HTTP route may filter the answer (inspect scrub, 404 wording): not something a raw relay does.
        return answerWith('refused', dockerError(400, NOT_UPGRADABLE, version));
      }
      let resolution;
      try {
        resolution = await sieve.resolver.resolveContainerRef(target.ref, target.api);
      } catch (error) {
        return lookupFailure(error as Error, version);
      }
      if (resolution.kind === 'missing' || !profile.policy.visibleContainer(resolution.container)) {
        return answerWith('hidden', noSuchContainer(target.ref, version, target.api));
      }
      return { kind: 'relay', path: containerPath(target, resolution.container.id, target.action) };
    }
    case 'exec': {
      if (target.action !== 'start') return answerWith('refused', dockerError(400, NOT_UPGRADABLE, version));
      let resolution;
      try {
        resolution = await sieve.execs.resolveExec(target.id, target.api);
      } catch (error) {
        return lookupFailure(error as Error, version);
      }
      if (resolution.kind === 'missing' || !profile.policy.visibleContainer(resolution.container)) {
        return answerWith('hidden', noSuchExec(target.id, version));
      }
      return { kind: 'relay', path: `${target.base}/exec/${resolution.execId}/start` };
    }
    default:
      return answerWith('refused', dockerError(400, NOT_UPGRADABLE, version));
  }
}

function lookupFailure(error: Error, version: ApiVersion | undefined): Plan {
  const relay = error instanceof LookupError ? error.relay : undefined;
  if (relay !== undefined) {
    return { kind: 'answer', decision: 'upstream-error', status: relay.status, contentType: relay.contentType, body: relay.body };
  }
  return answerWith('upstream-error', dockerError(502, `docker-sieve: ${error.message}`, version));
}

/** `api-version` → `Api-Version`, as Go writes header names. */
function canonicalHeaderName(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('-');
}

/** docker-sieve's own answer on a socket Node no longer speaks HTTP on: written by hand, then the connection closes. */
function answer(client: Duplex, plan: Answer, sieve: Sieve, lingerMs: number): void {
  const lines = [`HTTP/1.1 ${plan.status} ${STATUS_CODES[plan.status] ?? 'Unknown'}`];
  for (const [name, value] of Object.entries(sieve.upstream.daemonHeaders())) lines.push(`${canonicalHeaderName(name)}: ${value}`);
  if (plan.contentType !== undefined) lines.push(`Content-Type: ${plan.contentType}`);
  lines.push(`Content-Length: ${plan.body.length}`, 'Connection: close', '', '');
  client.end(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), plan.body]));
  // Read and drop what the client still sends (a request body): closing with unread data would reset the
  // connection, and the client might lose the answer.
  client.resume();
  linger(client, lingerMs);
}

/** A client that does not close its half after our last word is cut after `ms`. */
function linger(socket: Duplex, ms: number): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** The client's request head, with the judged path and the upstream's Host; every other header as received. */
export function requestHead(request: IncomingMessage, pathWithQuery: string, host: string): Buffer {
  const lines = [`${request.method ?? 'GET'} ${pathWithQuery} HTTP/${request.httpVersion}`];
  const raw = request.rawHeaders;
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

// ---------------------------------------------------------------------------------------------------------------
// Message framing: where a body ends, without decoding it.

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

/** A body that ends when the connection does. */
function untilClose(): BodyEnd {
  return { take: (chunk) => chunk.length, done: false };
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

// ---------------------------------------------------------------------------------------------------------------
// The relay of one exchange.

interface RelayContext {
  readonly request: IncomingMessage;
  readonly client: Duplex;
  readonly head: Buffer;
  readonly upstream: Socket;
  readonly requestHead: Buffer;
  readonly version: ApiVersion | undefined;
  readonly sieve: Sieve;
  readonly lingerMs: number;
  readonly onFinish: (status: number | undefined, decision: string, extra: Record<string, unknown>) => void;
}

function relay(context: RelayContext): void {
  const { request, client, head, upstream, version, sieve, lingerMs } = context;
  const method = request.method ?? 'GET';
  // Checked by the caller before it connected.
  const body = requestBodyEnd(request.headers)!;
  /**
   * request: the request is going up, the answer head is awaited; tunnel: raw both ways (after a 101, or an
   * answer that ends with the connection); answer: relaying one framed answer, the client's bytes go nowhere;
   * over: docker-sieve has answered or cut the connection.
   */
  let phase: 'request' | 'tunnel' | 'answer' | 'over' = 'request';
  let status: number | undefined;
  let decision = 'passed';
  let problem: string | undefined;
  let wroteToClient = false;
  let clientEnded = false;
  /** What the client sent after its request, held until the upstream has switched protocols. */
  const held: Buffer[] = [];
  let received: Buffer = EMPTY;
  let responseBody: BodyEnd | undefined;

  const setNoDelay = (socket: Duplex): void => {
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') (socket as Socket).setNoDelay(true);
  };
  setNoDelay(client);
  upstream.setNoDelay(true);

  // The exchange is over, and logged, when the upstream connection is closed and the client has had our
  // last byte (or is gone): a client slow to close its own half does not hold the log line back.
  let upstreamDone = false;
  let clientDone = false;
  let finished = false;
  const maybeFinish = (): void => {
    if (!upstreamDone || !clientDone || finished) return;
    finished = true;
    context.onFinish(status, decision, problem === undefined ? {} : { err: problem });
  };
  client.once('finish', () => {
    clientDone = true;
    maybeFinish();
  });

  function fail(message: string, failStatus = 502, failDecision = 'upstream-error'): void {
    if (phase === 'over') return;
    phase = 'over';
    decision = failDecision;
    problem = message;
    upstream.destroy();
    if (wroteToClient || client.destroyed) {
      client.destroy();
      return;
    }
    status = failStatus;
    answer(client, answerWith(failDecision, dockerError(failStatus, `docker-sieve: ${message}`, version)), sieve, lingerMs);
  }

  function writeToClient(bytes: Buffer): void {
    if (bytes.length === 0) return;
    wroteToClient = true;
    if (!client.write(bytes)) {
      upstream.pause();
      client.once('drain', () => upstream.resume());
    }
  }

  function writeUp(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (!upstream.write(bytes)) {
      client.pause();
      upstream.once('drain', () => {
        if (phase === 'request' && held.length === 0) client.resume();
      });
    }
  }

  function fromClient(chunk: Buffer): void {
    if (phase !== 'request') return;
    let rest = chunk;
    if (!body.done) {
      let n: number;
      try {
        n = body.take(rest);
      } catch (error) {
        fail((error as Error).message, 400, 'refused');
        return;
      }
      writeUp(rest.subarray(0, n));
      rest = rest.subarray(n);
    }
    if (rest.length > 0) {
      // Not part of this request: it goes up only once the upstream has switched protocols.
      held.push(rest);
      client.pause();
    }
  }

  function fromUpstream(chunk: Buffer): void {
    if (phase === 'answer') {
      relayAnswerBody(chunk);
      return;
    }
    if (phase !== 'request') return;
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    for (;;) {
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (received.length > MAX_RESPONSE_HEAD) fail('the upstream answer head is too large');
        return;
      }
      const headBytes = received.subarray(0, end + 4);
      const parsed = parseResponseHead(headBytes.toString('latin1'));
      if (parsed === undefined) {
        fail('the upstream answered something that is not HTTP');
        return;
      }
      status = parsed.status;
      if (parsed.status === 101) {
        startTunnel(received);
        return;
      }
      if (parsed.status >= 100 && parsed.status < 200) {
        // Interim (100 Continue): relayed, and the final answer follows.
        writeToClient(headBytes);
        received = received.subarray(end + 4);
        continue;
      }
      const framing = responseBodyEnd(method, parsed);
      if (framing === undefined) {
        fail('the upstream answer has a malformed Content-Length');
        return;
      }
      if (framing === 'close') {
        // No length: the upstream closes after this answer and reads no other request on this connection,
        // so the bytes can flow both ways (the daemon's own answer to an attach without Upgrade is like that).
        startTunnel(received);
        return;
      }
      writeToClient(headBytes);
      phase = 'answer';
      responseBody = framing;
      relayAnswerBody(received.subarray(end + 4));
      return;
    }
  }

  function relayAnswerBody(chunk: Buffer): void {
    const framing = responseBody!;
    let n: number;
    try {
      n = framing.take(chunk);
    } catch (error) {
      fail(`the upstream answer is malformed: ${(error as Error).message}`);
      return;
    }
    writeToClient(chunk.subarray(0, n));
    if (!framing.done) return;
    // One answer, and that is all this connection carries: the client's next request would meet no gate.
    phase = 'over';
    upstream.destroy();
    client.end();
    client.resume();
    linger(client, lingerMs);
  }

  function startTunnel(pending: Buffer): void {
    phase = 'tunnel';
    received = EMPTY;
    upstream.off('data', fromUpstream);
    client.off('data', fromClient);
    client.off('end', onClientEnd);
    // The head exactly as the upstream wrote it, and whatever followed it in the same read. From here on,
    // pipe() minds the backpressure both ways.
    if (pending.length > 0) {
      wroteToClient = true;
      client.write(pending);
    }
    for (const chunk of held) upstream.write(chunk);
    held.length = 0;
    upstream.pipe(client);
    if (clientEnded) upstream.end();
    else client.pipe(upstream);
  }

  function onClientEnd(): void {
    clientEnded = true;
  }

  client.on('close', () => {
    upstream.destroy();
    clientDone = true;
    maybeFinish();
  });
  upstream.on('error', (error) => {
    if (phase === 'request') fail(`upstream connection failed: ${error.message}`);
    else {
      problem ??= error.message;
      client.destroy();
    }
  });
  upstream.on('end', () => {
    if (phase === 'request') fail('the upstream closed the connection before answering');
    else if (phase === 'answer') {
      // The answer was cut short: so is the client's connection, so that it sees it incomplete.
      phase = 'over';
      problem ??= 'the upstream closed the connection in the middle of its answer';
      client.destroy();
    }
  });
  upstream.on('close', () => {
    if (phase === 'tunnel') {
      // Nothing more goes up. The client has (or soon will have) the end of the output: let it close.
      client.unpipe(upstream);
      client.resume();
      if (!client.destroyed) {
        client.end();
        linger(client, lingerMs);
      }
    }
    upstreamDone = true;
    maybeFinish();
  });

  upstream.write(context.requestHead);
  fromClient(head);
  if (phase === 'request') {
    client.on('end', onClientEnd);
    // Starts the flow, unless a held chunk (or backpressure) has paused the client: that pause outlasts it.
    client.on('data', fromClient);
  }
  upstream.on('data', fromUpstream);
}
