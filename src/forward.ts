// Forwarding to the upstream through @fastify/reply-from, and the replies docker-sieve makes itself.
import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';
import { dockerError, type DockerErrorReply } from './docker/errors.js';
import type { ApiVersion } from './docker/target.js';
import { endToEndHeaders, type Upstream } from './upstream.js';

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly stream: Readable;
}

export interface ForwardOptions {
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
  return reply.from(upstream.pathPrefix + path, {
    queryString: () => query,
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
    ...(onResponse === undefined
      ? {}
      : {
          onResponse(_request, rawReply, response) {
            const reply = rawReply as unknown as FastifyReply;
            Promise.resolve(onResponse(reply, response as unknown as UpstreamResponse)).catch((error: Error) => {
              abortReply(reply, error);
            });
          },
        }),
  });
}

/** Fail closed: an error after the upstream answered must never let unfiltered bytes out. */
export function abortReply(reply: FastifyReply, error: Error): void {
  reply.request.decision = 'upstream-error';
  reply.request.log.warn({ err: error.message }, 'aborting response');
  if (reply.raw.headersSent) {
    reply.raw.destroy(error);
    return;
  }
  reply.removeHeader('content-length');
  reply.code(502).type('application/json').send(`${JSON.stringify({ message: `docker-sieve: ${error.message}` })}\n`);
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
