// Every route about one container: resolve the ref, decide, and only then forward, with the ref replaced by
// the full ID that was judged, so the daemon can act on no other container than the one decided on.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from '../sieve.js';
import { containerPath, type Target } from '../docker/target.js';
import { dockerError, noSuchContainer } from '../docker/errors.js';
import { forwardAsMissing, unusedName } from '../filters/as-missing.js';
import { forward, sendDockerError, sendUpstreamStream, type UpstreamResponse } from '../upstream/forward.js';
import { sendJudgedAnswer } from './error-answer.js';
import type { ResolvedContainer } from '../upstream/resolver.js';
import { sendLookupFailure } from '../upstream/lookup.js';
import { scrubContainerInspect, scrubLibpodInspect } from '../filters/container-inspect.js';
import { sendScrubbed } from '../filters/scrubbed-inspect.js';

type ContainerTarget = Extract<Target, { kind: 'container' }>;

export async function containerRoute(
  sieve: Sieve,
  target: ContainerTarget,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const { upstream, resolver } = sieve;
  const profile = request.profile;
  const reach = target.api === 'libpod' ? libpodReach(target) : undefined;
  if (reach !== undefined) {
    request.decision = 'refused';
    sendDockerError(reply, upstream, dockerError(403, reach, target.version));
    return;
  }
  let resolution;
  try {
    resolution = await resolver.resolveContainerRef(target.ref, target.api);
  } catch (error) {
    sendLookupFailure(reply, upstream, error as Error, target.version);
    return;
  }
  if (resolution.kind === 'missing' || !profile.policy.visibleContainer(resolution.container)) {
    if (target.api === 'libpod') {
      const placeholder = unusedName();
      forwardAsMissing(reply, sieve, target.version, containerPath(target, placeholder, target.action), target.query, { ref: target.ref, placeholder });
      return;
    }
    request.decision = 'hidden';
    sendDockerError(reply, upstream, noSuchContainer(target.ref, target.version, target.api));
    return;
  }
  const container = resolution.container;
  const scrub = profile.scrubEnvs && request.method === 'GET' && target.action === 'json';
  request.decision = scrub ? 'scrubbed' : 'passed';
  forward(reply, upstream, target.version, containerPath(target, container.id, target.action), target.query, {
    onResponse: (reply, response) => onContainerResponse(sieve, reply, response, target, container, scrub),
  });
}

/**
 * Podman's routes that reach past the one container judged: a removal with `depend` takes the containers that
 * depend on it too, a restore with `pod` puts the container into a pod. Refused while filtering (undefined: fine).
 */
export function libpodReach(target: ContainerTarget): string | undefined {
  const params = queryParams(target.query);
  if (target.action === '' && truthy(params.get('depend'))) {
    return 'docker-sieve: depend=true is refused while container filters are active, because it removes the containers that depend on this one too';
  }
  if (target.action === 'restore' && params.has('pod')) {
    return 'docker-sieve: a restore into a pod is refused while container filters are active';
  }
  return undefined;
}

/** Podman reads query keys in any case (gorilla/schema): every spelling counts, the last value of each. */
function queryParams(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(query)) params.set(key.toLowerCase(), value);
  return params;
}

function truthy(value: string | undefined): boolean {
  // strconv.ParseBool, as gorilla/schema decodes a bool.
  return value !== undefined && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value);
}

async function onContainerResponse(
  sieve: Sieve,
  reply: FastifyReply,
  response: UpstreamResponse,
  target: ContainerTarget,
  container: ResolvedContainer,
  scrub: boolean,
): Promise<void> {
  if (response.statusCode >= 400) {
    // A 404: the container went away since it was judged; say so about the ref the client sent, not our full ID.
    // Any error may name other containers (a name's holder, dependents): error-answer.ts.
    await sendJudgedAnswer(sieve, reply, response, {
      api: target.api,
      version: target.version,
      visible: new Set([container.id]),
      ...(response.statusCode === 404 ? { refsByForwarded: new Map([[container.id, target.ref]]) } : {}),
    });
    return;
  }
  if (scrub) return sendScrubbed(reply, response, target.api === 'libpod' ? scrubLibpodInspect : scrubContainerInspect);
  sendUpstreamStream(reply, response);
}
