// Every route about one container: resolve the ref, decide, and only then forward, with the ref replaced by
// the full ID that was judged, so the daemon can act on no other container than the one decided on.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from './sieve.js';
import { containerPath, type Target } from './docker/target.js';
import { noSuchContainer } from './docker/errors.js';
import { forward, readBody, sendDockerError, sendUpstreamStream, type UpstreamResponse } from './forward.js';
import type { ResolvedContainer } from './resolver.js';
import { sendLookupFailure } from './lookup.js';
import { scrubContainerInspect } from './filters/container-inspect.js';
import { sendScrubbed } from './filters/scrubbed-inspect.js';

type ContainerTarget = Extract<Target, { kind: 'container' }>;

/** Error bodies are small; anything larger is not what we expect and is refused. */
const MAX_REWRITTEN_BODY = 64 * 1024 * 1024;

export async function containerRoute(
  sieve: Sieve,
  target: ContainerTarget,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const { upstream, resolver } = sieve;
  const profile = request.profile;
  let resolution;
  try {
    resolution = await resolver.resolveContainerRef(target.ref);
  } catch (error) {
    sendLookupFailure(reply, upstream, error as Error, target.version);
    return;
  }
  if (resolution.kind === 'missing' || !profile.policy.visibleContainer(resolution.container)) {
    request.decision = 'hidden';
    sendDockerError(reply, upstream, noSuchContainer(target.ref, target.version));
    return;
  }
  const container = resolution.container;
  const scrub = profile.scrubEnvs && request.method === 'GET' && target.action === 'json';
  request.decision = scrub ? 'scrubbed' : 'passed';
  forward(reply, upstream, target.version, containerPath(target.version, container.id, target.action), target.query, {
    onResponse: (reply, response) => onContainerResponse(reply, response, target, container, scrub),
  });
}

async function onContainerResponse(
  reply: FastifyReply,
  response: UpstreamResponse,
  target: ContainerTarget,
  container: ResolvedContainer,
  scrub: boolean,
): Promise<void> {
  if (response.statusCode === 404) {
    // The container went away since it was judged: say so about the ref the client sent, not our full ID.
    const body = await readBody(response.stream, MAX_REWRITTEN_BODY);
    reply.removeHeader('content-length');
    reply.send(body.toString('utf8').replaceAll(container.id, target.ref));
    return;
  }
  if (scrub) return sendScrubbed(reply, response, scrubContainerInspect);
  sendUpstreamStream(reply, response);
}
