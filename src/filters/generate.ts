// GET /libpod/generate/kube?names=... (and /libpod/kube/generate), GET /libpod/generate/{name}/systemd. They
// export what a container runs: its env values, its command line, and with `new=true` the whole `podman run`.
// With SCRUB_ENVS they are refused; otherwise every name must be a visible container, or a pod whose every
// member is visible (a pod's units and YAML cover each member). Anything else is answered as a missing
// container, and nothing is asked of the daemon.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { dockerError } from '../docker/errors.js';
import { forwardAsMissing, queryNaming, unusedName } from './as-missing.js';
import { forward, sendDockerError } from '../upstream/forward.js';
import { sendLookupFailure } from '../upstream/lookup.js';
import { judgePod, lookupPod } from '../upstream/pod-lookup.js';
import { planGenerateKubeQuery } from './libpod-pods-lookup.js';

type GenerateTarget = Extract<Target, { kind: 'generate' }>;

/** The names a generate request asks about: `names=` in any spelling of the key (Podman reads it so), or the path's. */
export function generateNames(target: GenerateTarget): string[] {
  if (target.format === 'systemd') return [target.ref!];
  return [...planGenerateKubeQuery(target.query).values];
}

export async function generateRoute(sieve: Sieve, target: GenerateTarget, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const profile = request.profile;
  if (profile.scrubEnvs) {
    request.decision = 'refused';
    sendDockerError(
      reply,
      sieve.upstream,
      dockerError(403, `docker-sieve: generate ${target.format} is refused with SCRUB_ENVS (scrub_envs), because it exports env values and command lines`, target.version),
    );
    return;
  }
  try {
    for (const name of generateNames(target)) {
      if (await visibleName(sieve, request, name)) continue;
      const placeholder = unusedName();
      const path = target.format === 'systemd' ? target.path.replace(/\/generate\/.*\/systemd$/, `/generate/${encodeURIComponent(placeholder)}/systemd`) : target.path;
      const query = target.format === 'kube' ? queryNaming(target.query, name, placeholder) : target.query;
      forwardAsMissing(reply, sieve, target.version, path, query, { ref: name, placeholder });
      return;
    }
  } catch (error) {
    sendLookupFailure(reply, sieve.upstream, error as Error, target.version);
    return;
  }
  request.decision = 'passed';
  forward(reply, sieve.upstream, target.version, target.path, target.query);
}

async function visibleName(sieve: Sieve, request: FastifyRequest, name: string): Promise<boolean> {
  const resolution = await sieve.resolver.resolveContainerRef(name, 'libpod');
  if (resolution.kind === 'found') return request.profile.policy.visibleContainer(resolution.container);
  const pod = await lookupPod(sieve.upstream, name, sieve.config.timeouts.lookupMs);
  return pod !== undefined && (await judgePod(sieve.resolver, request.profile.policy, pod)).whole;
}
