// Forwarding to the upstream through @fastify/reply-from, and the replies docker-sieve makes itself.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pipeline, type Readable, type Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import { dockerError, type DockerErrorReply } from './docker/errors.js';
import type { ApiVersion } from './docker/target.js';
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

/** Forwards the request to `path?query` upstream; the body streams both ways. */
export function forward(
  reply: FastifyReply,
  upstream: Upstream,
  version: ApiVersion | undefined,
  path: string,
  query: string,
  options: ForwardOptions = {},
): FastifyReply {
  const onResponse = options.onResponse;
  const started = upstream.onTiming === undefined ? 0 : performance.now();
  return reply.from(upstream.pathPrefix + path, {
    queryString: () => query,
    ...(options.body === undefined ? {} : { body: options.body, contentType: options.contentType ?? 'application/json' }),
    rewriteHeaders(headers) {
      upstream.observe(headers);
      return endToEndHeaders(headers);
    },
    onError(rawReply, { error }) {
      const reply = rawReply as unknown as FastifyReply;
      reply.request.decision = 'upstream-error';
      reply.request.log.warn({ err: error.message }, 'upstream request failed');
      sendDockerError(reply, upstream, dockerError(502, `docker-sieve: upstream unavailable: ${error.message}`, version));
    },
    onResponse(_request, rawReply, response) {
      const reply = rawReply as unknown as FastifyReply;
      const upstreamResponse = response as unknown as UpstreamResponse;
      upstream.onTiming?.('forward', (performance.now() - started) / 1000);
      if (onResponse === undefined) {
        sendUpstreamStream(reply, upstreamResponse);
        return;
      }
      Promise.resolve(onResponse(reply, upstreamResponse)).catch((error: Error) => {
        failClosed(reply, upstream, version, error);
      });
    },
  });
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
  const abort = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  const headers = endToEndHeaders(request.headers);
  delete headers.host;
  // The client's GET has no body: its framing headers must not travel without it.
  delete headers['content-length'];
  // We read the answer, so it must come back unencoded.
  delete headers['accept-encoding'];
  try {
    return await upstream.request({ method: 'GET', path: pathWithQuery, headers, signal: abort.signal });
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
  pipeline(response.body, filter, () => {
    // Errors reach the client through `filter`, which reply.send turns into a cut connection.
  });
  // Headers go out at once, as the daemon's do: a client of a quiet stream must not wait for the first record.
  sendFilterOutput(reply, response, filter);
}

/** The upstream's status and headers, less Content-Length, with `filter` as the body; sent at once. */
function sendFilterOutput(reply: FastifyReply, response: Dispatcher.ResponseData, filter: Transform): void {
  const headers = endToEndHeaders(response.headers);
  delete headers['content-length'];
  reply.code(response.statusCode).headers(headers).send(filter);
  // From here on a failure can only cut the connection (fail closed, see failClosed).
  reply.raw.flushHeaders();
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
    sendFilterOutput(reply, response, filter);
  });
  pipeline(response.body, filter, () => {
    // Before the commit failEarly answers; after it, reply.send turns an error into a cut connection.
  });
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
