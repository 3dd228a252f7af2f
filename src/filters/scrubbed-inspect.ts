// SCRUB_ENVS on the answers of container inspect and exec inspect: a 200 is read (bounded) and rewritten, any
// other answer streams back unchanged. The gates use it after they decided; with no filters it is the whole
// route, since there is nothing to hide but still env to blank.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { forward, readBody, sendUpstreamStream, type UpstreamResponse } from '../upstream/forward.js';
import { scrubContainerInspect, scrubLibpodInspect } from './container-inspect.js';
import { scrubExecInspect } from './exec-inspect.js';

/** Inspects are small; anything larger is not what we expect and is refused. */
const MAX_INSPECT_BODY = 64 * 1024 * 1024;

export type Scrub = (body: Buffer) => string;

export async function sendScrubbed(reply: FastifyReply, response: UpstreamResponse, scrub: Scrub): Promise<void> {
  if (response.statusCode !== 200) {
    sendUpstreamStream(reply, response);
    return;
  }
  const body = await readBody(response.stream, MAX_INSPECT_BODY);
  reply.removeHeader('content-length');
  reply.send(scrub(body));
}

/** No filters, SCRUB_ENVS set: `GET /containers/{ref}/json` or `/exec/{id}/json` goes upstream as it came. */
export function scrubbedInspectRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'container' | 'exec' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const scrub = target.kind === 'exec' ? scrubExecInspect : target.api === 'libpod' ? scrubLibpodInspect : scrubContainerInspect;
  request.decision = 'scrubbed';
  forward(reply, sieve.upstream, target.version, target.path, target.query, {
    onResponse: (reply, response) => sendScrubbed(reply, response, scrub),
  });
}
