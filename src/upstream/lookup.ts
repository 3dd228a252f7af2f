// Lookups the gates make upstream before they decide (container inspect, exec inspect), and what the client
// is told when a lookup fails. A failed lookup never lets the request through.
import type { FastifyReply } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { Upstream } from './upstream.js';
import type { ApiVersion } from '../docker/target.js';
import { dockerError } from '../docker/errors.js';
import { sendDockerError } from './forward.js';

/** The upstream could not answer the lookup. `relay` is an answer of the socket proxy's own to pass on. */
export class LookupError extends Error {
  constructor(
    message: string,
    readonly relay?: { status: number; contentType: string | undefined; body: Buffer },
  ) {
    super(message);
    this.name = 'LookupError';
  }
}

const MAX_LOOKUP_BYTES = 16 * 1024 * 1024;
// Errors the socket proxy gives about itself (not about the object): the client should see them.
const RELAYED_STATUSES = new Set([401, 403, 405, 407]);

export interface LookupAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export async function readLookupBody(upstream: Upstream, path: string, timeoutMs: number): Promise<LookupAnswer> {
  try {
    const response = await upstream.request({
      method: 'GET',
      path,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeoutMs: timeoutMs,
      timingKind: 'lookup',
    });
    const chunks: Buffer[] = [];
    let size = 0;
    // Leaving this loop by throwing destroys the body.
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_LOOKUP_BYTES) throw new Error('the answer is too large');
      chunks.push(chunk as Buffer);
    }
    return { status: response.statusCode, headers: response.headers as IncomingHttpHeaders, body: Buffer.concat(chunks) };
  } catch (error) {
    throw new LookupError(`lookup failed: ${(error as Error).message}`);
  }
}

/** Throws the socket proxy's own refusal so that it reaches the client as it was. */
export function relayLookupError(answer: LookupAnswer): void {
  if (!RELAYED_STATUSES.has(answer.status)) return;
  const contentType = answer.headers['content-type'];
  throw new LookupError(`upstream refused the lookup with ${answer.status}`, {
    status: answer.status,
    contentType: typeof contentType === 'string' ? contentType : undefined,
    body: answer.body,
  });
}

export function sendLookupFailure(reply: FastifyReply, upstream: Upstream, error: Error, version: ApiVersion | undefined): void {
  reply.request.decision = 'upstream-error';
  const relay = error instanceof LookupError ? error.relay : undefined;
  if (relay !== undefined) {
    reply.code(relay.status).headers(upstream.daemonHeaders());
    if (relay.contentType !== undefined) reply.header('content-type', relay.contentType);
    reply.send(relay.body);
    return;
  }
  sendDockerError(reply, upstream, dockerError(502, `docker-sieve: ${error.message}`, version));
}
