// Forwarding to the upstream on the one undici pool (upstream.ts), and the replies docker-sieve makes itself.
//
// The forward is a few lines on `Pool.request` rather than @fastify/reply-from: reply-from loads undici's whole
// index (fetch, websocket, cache, mock: +7 MB of idle RSS, measured in bench/scenarios/footprint.ts) and spends
// a URL cache, header copies and a retry layer on every request, where a proxy of one upstream needs none.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EventEmitter } from 'node:events';
import type { Readable, Transform } from 'node:stream';
import { pipeInto } from '../stream/pipe.js';
import type { Dispatcher } from 'undici';
import { backToRefs, dockerError, type DockerErrorReply } from '../docker/errors.js';
import type { ApiVersion } from '../docker/target.js';
import { endToEndHeaders, type Upstream } from './upstream.js';

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly stream: Readable;
}

export interface ForwardOptions {
  /** A body already read (and judged), sent as these exact bytes instead of streaming the request's. */
  readonly body?: Buffer;
  readonly contentType?: string;
  /** Replaces the default (stream the body back unchanged). The status and headers are already set. */
  readonly onResponse?: (reply: FastifyReply, response: UpstreamResponse) => void | Promise<void>;
}

/** The request's end-to-end headers for the upstream, with the upstream's Host, and the body to send. */
function upstreamRequestParts(request: FastifyRequest, upstream: Upstream, options: ForwardOptions): { headers: Record<string, string | string[]>; body: Readable | Buffer | undefined } {
  const headers = endToEndHeaders(request.headers);
  headers.host = upstream.host;
  if (options.body !== undefined) {
    headers['content-length'] = String(options.body.length);
    headers['content-type'] = options.contentType ?? 'application/json';
    return { headers, body: options.body };
  }
  // The catch-all content-type parser (app.ts) hands over the request stream itself; GET and HEAD have none.
  return { headers, body: request.body as Readable | undefined };
}

/** Forwards the request to `path?query` upstream; the body streams both ways. */
export function forward(
  reply: FastifyReply,
  upstream: Upstream,
  version: ApiVersion | undefined,
  path: string,
  query: string,
  options: ForwardOptions = {},
): FastifyReply {
  const request = reply.request;
  const started = upstream.onTiming === undefined ? 0 : performance.now();
  const { headers, body } = upstreamRequestParts(request, upstream, options);
  // A client that goes away before the answer (a `wait`, say) takes its upstream request with it. undici takes an
  // EventEmitter that emits 'abort' as a signal: an AbortController per request costs ~30 µs of CPU (measured on
  // /_ping at 32 connections, bench/scenarios/http.ts), a third of a whole pass-through.
  const clientGone = new EventEmitter();
  const onClose = (): void => {
    clientGone.emit('abort');
  };
  reply.raw.once('close', onClose);
  upstream.dispatcher.request(
    {
      method: request.method as Dispatcher.HttpMethod,
      path: upstream.pathPrefix + (query === '' ? path : `${path}?${query}`),
      headers,
      body: body ?? null,
      signal: clientGone,
    },
    (error, response) => {
      reply.raw.off('close', onClose);
      if (error !== null) {
        if (reply.raw.destroyed) return;
        reply.request.decision = 'upstream-error';
        reply.request.log.warn({ err: error.message }, 'upstream request failed');
        if (!reply.sent) sendDockerError(reply, upstream, dockerError(502, `docker-sieve: upstream unavailable: ${error.message}`, version));
        return;
      }
      upstream.onTiming?.('forward', (performance.now() - started) / 1000);
      upstream.observe(response.headers);
      if (reply.raw.destroyed) {
        // Gone between the answer and now: nothing to send, and the upstream stream must not linger.
        response.body.destroy();
        return;
      }
      try {
        reply.code(response.statusCode);
      } catch {
        // Not a status Node can send (Fastify refuses what is outside 100-599): the answer cannot be relayed.
        response.body.destroy();
        reply.request.decision = 'upstream-error';
        sendDockerError(reply, upstream, dockerError(502, `docker-sieve: upstream sent status ${response.statusCode}`, version));
        return;
      }
      reply.headers(endToEndHeaders(response.headers));
      // An HTTP/1 connection cannot serve another request until its request body has been read.
      if (!request.raw.complete) reply.header('connection', 'close');
      const upstreamResponse: UpstreamResponse = { statusCode: response.statusCode, headers: response.headers, stream: response.body };
      if (options.onResponse === undefined) {
        sendUpstreamStream(reply, upstreamResponse);
        return;
      }
      Promise.resolve(options.onResponse(reply, upstreamResponse)).catch((failure: Error) => {
        failClosed(reply, upstream, version, failure);
      });
    },
  );
  return reply;
}

/** The upstream's body, streamed back. A stream (logs -f, stats) gets its headers at once, as from the daemon. */
export function sendUpstreamStream(reply: FastifyReply, response: UpstreamResponse): void {
  reply.send(response.stream);
  if (response.headers['content-length'] === undefined) reply.raw.flushHeaders();
}

/** What a filter kept of what it saw, for the request's log line and metrics. */
export interface FilterSummary {
  kept: number;
  seen: number;
}

/**
 * Fail closed: an error after the upstream answered must never let unfiltered bytes out. A 502 in the daemon's
 * error format if nothing has been sent yet, a cut connection otherwise.
 */
export function failClosed(reply: FastifyReply, upstream: Upstream, version: ApiVersion | undefined, error: Error): void {
  reply.request.decision = 'upstream-error';
  reply.request.log.warn({ err: error.message }, 'refusing an upstream answer that cannot be filtered');
  if (reply.sent || reply.raw.destroyed) return;
  if (reply.raw.headersSent) {
    reply.raw.destroy(error);
    return;
  }
  reply.removeHeader('content-length');
  sendDockerError(reply, upstream, dockerError(502, `docker-sieve: ${error.message}`, version));
}

export function sendDockerError(reply: FastifyReply, upstream: Upstream, error: DockerErrorReply): FastifyReply {
  return reply
    .code(error.status)
    .headers(upstream.daemonHeaders())
    .header('content-type', error.contentType)
    // A Buffer, so Fastify adds no charset: Go clients read `message` only for exactly application/json.
    .send(Buffer.from(error.body));
}

/**
 * The daemon's answer, its status and headers already on `reply`, sent with what was forwarded written as the
 * client's refs (backToRefs). A Buffer, so Fastify adds no charset: Go clients read `message` only for exactly
 * `application/json`.
 */
export function sendNamingRefs(reply: FastifyReply, body: Buffer, refsByForwarded: ReadonlyMap<string, string>): void {
  reply.removeHeader('content-length');
  reply.send(Buffer.from(backToRefs(body.toString('utf8'), refsByForwarded), 'utf8'));
}

export async function readBody(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    // Throwing out of the loop destroys the stream.
    if (size > maxBytes) throw new Error(`upstream answer exceeds ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Fetches `pathWithQuery` upstream for a filter, with the client's end-to-end headers, aborting the upstream
 * request when the client goes away. Sends the 502 itself and returns undefined if the upstream is unreachable.
 */
export async function fetchForFilter(
  upstream: Upstream,
  request: FastifyRequest,
  reply: FastifyReply,
  version: ApiVersion | undefined,
  pathWithQuery: string,
): Promise<Dispatcher.ResponseData | undefined> {
  // An EventEmitter that emits 'abort' is a signal to undici, and a cheap one (see forward).
  const clientGone = new EventEmitter();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) clientGone.emit('abort');
  });
  const headers = endToEndHeaders(request.headers);
  delete headers.host;
  // The client's GET has no body: its framing headers must not travel without it.
  delete headers['content-length'];
  // We read the answer, so it must come back unencoded.
  delete headers['accept-encoding'];
  try {
    return await upstream.request({ method: 'GET', path: pathWithQuery, headers, signal: clientGone });
  } catch (error) {
    request.decision = 'upstream-error';
    sendDockerError(reply, upstream, dockerError(502, `docker-sieve: upstream unavailable: ${(error as Error).message}`, version));
    return undefined;
  }
}

/**
 * Streams `response` back through `filter`. The status and headers are the upstream's, less Content-Length.
 * An error in either stream cuts the connection: a client never sees an end to a list that was not filtered.
 */
export function sendFiltered(
  request: FastifyRequest,
  reply: FastifyReply,
  response: Dispatcher.ResponseData,
  filter: Transform,
  summary: FilterSummary,
): void {
  request.decision = 'filtered';
  request.listSummary = summary;
  // Errors reach the client through `filter`, which reply.send turns into a cut connection.
  pipeInto(response.body, filter);
  // Headers go out at once, as the daemon's do: a client of a quiet stream must not wait for the first record.
  sendFilterOutput(reply, response, filter, true);
}

/**
 * The upstream's status and headers, less Content-Length, with `filter` as the body. `flush` sends the headers
 * at once, on their own: a stream's client must not wait for its first record. A list that has just committed
 * has its first bytes ready, and its headers go out with them: a write of their own costs a syscall and a
 * loopback packet, ~40 µs of CPU per request (--cpu-prof).
 */
function sendFilterOutput(reply: FastifyReply, response: Dispatcher.ResponseData, filter: Transform, flush: boolean): void {
  const headers = endToEndHeaders(response.headers);
  delete headers['content-length'];
  reply.code(response.statusCode).headers(headers).send(filter);
  // From here on a failure can only cut the connection (fail closed, see failClosed).
  if (flush) reply.raw.flushHeaders();
}

/**
 * The event a filter for sendFilteredOnceCommitted emits once the status may go out: its answer is known to be
 * of the right shape (a list: the first element is complete, or the array is empty). It pushes nothing before.
 */
export const FILTER_COMMITTED = 'committed';

export interface CommitOptions {
  readonly upstream: Upstream;
  readonly version: ApiVersion | undefined;
  /** What the upstream should have sent, for the 502: "upstream sent an invalid <what>: ...". */
  readonly what: string;
}

/**
 * Like sendFiltered, but for an answer that is not a stream: nothing is sent until `filter` emits
 * FILTER_COMMITTED. A failure before that (garbage, an empty body, a cut inside the first element) is a
 * Docker-style 502 instead of a 200 that breaks off; after it, a cut connection as with sendFiltered. Until
 * then only what the filter holds itself (the first element's pieces) is held.
 */
export function sendFilteredOnceCommitted(
  request: FastifyRequest,
  reply: FastifyReply,
  response: Dispatcher.ResponseData,
  filter: Transform,
  summary: FilterSummary,
  options: CommitOptions,
): void {
  request.decision = 'filtered';
  request.listSummary = summary;
  const failEarly = (error: Error): void => {
    // The client went away first: fetchForFilter has aborted the upstream request, no one is left to answer.
    if (reply.raw.destroyed) return;
    request.listSummary = null; // the log line shows the decision, not a summary of a list that never went out
    failClosed(reply, options.upstream, options.version, new Error(`upstream sent an invalid ${options.what}: ${error.message}`));
  };
  filter.once('error', failEarly);
  filter.once(FILTER_COMMITTED, () => {
    filter.off('error', failEarly);
    sendFilterOutput(reply, response, filter, false);
  });
  // Before the commit failEarly answers; after it, reply.send turns an error into a cut connection.
  pipeInto(response.body, filter);
}

export function withQuery(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

/** Sends an upstream answer back unchanged (a filter's non-200, say). */
export function sendUnchanged(request: FastifyRequest, reply: FastifyReply, response: Dispatcher.ResponseData): void {
  request.decision = 'passed';
  reply.code(response.statusCode).headers(endToEndHeaders(response.headers)).send(response.body);
  if (response.headers['content-length'] === undefined) reply.raw.flushHeaders();
}
