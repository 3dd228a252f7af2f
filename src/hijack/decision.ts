// What an upgrade (exec start, attach) may do: relay to the judged full ID, or be answered by docker-sieve. The
// same gate as the HTTP routes, with the same resolver and exec gate: nothing about a container is forwarded
// before it is judged visible.
import type { Sieve } from '../sieve.js';
import { containerPath, type ApiVersion, type Target } from '../docker/target.js';
import { dockerError, noSuchContainer, noSuchExec, type DockerErrorReply } from '../docker/errors.js';
import { LookupError } from '../upstream/lookup.js';
import type { Profile } from '../policy/profile.js';

/** What the gate decided: relay to `path`, or answer the client ourselves. */
export type Plan = { readonly kind: 'relay'; readonly path: string } | Answer;

export interface Answer {
  readonly kind: 'answer';
  readonly decision: string;
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

export function answerWith(decision: string, error: DockerErrorReply): Answer {
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
