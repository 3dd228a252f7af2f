// The route table: one line per kind of target. Adding a filtered endpoint means adding a kind to the
// classifier, its module, and its line here.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from './sieve.js';
import type { Profile } from './policy/profile.js';
import { LIBPOD_REFUSED, type Target } from './docker/target.js';
import { dockerError, type DockerErrorReply } from './docker/errors.js';
import { judgeAccess } from './gates/access.js';
import { forward, sendDockerError } from './upstream/forward.js';
import { containerRoute } from './gates/container.js';
import { execRoute } from './gates/exec.js';
import { containersListRoute } from './filters/containers-list.js';
import { systemDfRoute } from './filters/system-df.js';
import { networkRoute, networksListRoute } from './filters/networks.js';
import { swarmListRoute, swarmObjectRoute } from './filters/swarm.js';
import { eventsRoute } from './filters/events.js';
import { containerRefsRoute } from './filters/container-refs.js';
import { containersPruneRoute } from './filters/containers-prune.js';
import { scrubbedInspectRoute } from './filters/scrubbed-inspect.js';
import { containersStatsRoute } from './filters/containers-stats.js';
import { podRoute, podsListRoute, podsStatsRoute } from './filters/pods.js';
import { generateRoute } from './filters/generate.js';

export type Handler<K extends Target['kind'] = Target['kind']> = (
  sieve: Sieve,
  target: Extract<Target, { kind: K }>,
  request: FastifyRequest,
  reply: FastifyReply,
) => unknown;

const pass: Handler<Target['kind']> = (sieve, target, request, reply) => {
  request.decision = 'passed';
  // Every target but a malformed one has a cleaned path; routeFor never sends a malformed one here.
  return forward(reply, sieve.upstream, target.version, target.path!, target.query);
};

/** While filtering: what each kind of target gets. */
const ROUTES: { [K in Target['kind']]: Handler<K> } = {
  refuse: (sieve, target, request, reply) => {
    request.decision = 'refused';
    return sendDockerError(reply, sieve.upstream, dockerError(target.status, target.message, target.version));
  },
  pass: (sieve, target, request, reply) => pass(sieve, target, request, reply),
  unfiltered: (sieve, target, request, reply) => {
    request.decision = 'refused';
    return sendDockerError(reply, sieve.upstream, dockerError(403, target.message, target.version));
  },
  'containers-list': containersListRoute,
  container: containerRoute,
  'container-create': containerRefsRoute,
  'containers-prune': containersPruneRoute,
  commit: containerRefsRoute,
  build: containerRefsRoute,
  events: eventsRoute,
  'system-df': systemDfRoute,
  'networks-list': networksListRoute,
  network: networkRoute,
  'network-connect': containerRefsRoute,
  exec: execRoute,
  'swarm-list': swarmListRoute,
  'swarm-object': swarmObjectRoute,
  'containers-stats': containersStatsRoute,
  generate: generateRoute,
  'pods-list': podsListRoute,
  'pods-stats': podsStatsRoute,
  pod: podRoute,
};

/** Kinds whose handler reads Podman's native answers and bodies; a libpod target of another kind is refused. */
const LIBPOD_HANDLED: ReadonlySet<Target['kind']> = new Set([
  'refuse', 'pass', 'unfiltered', 'container', 'exec', 'containers-list', 'containers-prune', 'events', 'system-df',
  'containers-stats', 'container-create', 'network-connect', 'commit', 'generate', 'pods-list', 'pods-stats', 'pod',
]);

function refuseLibpod(sieve: Sieve, target: Target, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  request.decision = 'refused';
  return sendDockerError(reply, sieve.upstream, dockerError(403, LIBPOD_REFUSED, target.version));
}

/**
 * The handler for a target. With no filters there is nothing to hide: every request goes upstream as it came
 * (cleaned), and the answer comes back unchanged, so the client sees exactly what the socket proxy says.
 * SCRUB_ENVS is the one exception: inspects (container, exec, swarm) are still scrubbed.
 */
export function routeFor(profile: Profile, target: Target, method: string): Handler {
  if (profile.policy.filtering) {
    if (target.api === 'libpod' && !LIBPOD_HANDLED.has(target.kind)) return refuseLibpod;
    return ROUTES[target.kind] as Handler;
  }
  if (target.kind === 'refuse' && target.path === undefined) return ROUTES.refuse as Handler;
  if (profile.scrubEnvs) {
    if (target.kind === 'container' && method === 'GET' && target.action === 'json') return scrubbedInspectRoute as Handler;
    if (target.kind === 'exec' && target.action === 'json') return scrubbedInspectRoute as Handler;
    if (target.kind === 'swarm-list') return ROUTES['swarm-list'] as Handler;
    if (target.kind === 'swarm-object' && method === 'GET' && target.action === '') return ROUTES['swarm-object'] as Handler;
    // Podman's: generate exports env and command lines (refused with SCRUB_ENVS), a pod inspect its CreateCommand.
    if (target.kind === 'generate') return ROUTES.generate as Handler;
    if (target.kind === 'pod' && target.action === 'json') return ROUTES.pod as Handler;
  }
  return pass;
}

export type Admission =
  | { readonly kind: 'refuse'; readonly error: DockerErrorReply }
  | { readonly kind: 'route' | 'would-refuse'; readonly route: Handler };

/**
 * What the request's profile lets through, decided before anything is forwarded: its access first, then the
 * route. In audit mode a refusal is only reported (`would-refuse`) and the request goes on as if nothing were
 * refused.
 */
export function admit(profile: Profile, method: string, target: Target): Admission {
  const access = judgeAccess(profile.access, profile.name, method, target);
  const audit = profile.mode === 'audit';
  if (!access.allowed && !audit) return { kind: 'refuse', error: dockerError(403, access.message, target.version) };
  if (audit && profile.policy.filtering && target.path !== undefined && REFUSED_WHILE_FILTERING.has(target.kind)) {
    return { kind: 'would-refuse', route: pass };
  }
  return { kind: access.allowed ? 'route' : 'would-refuse', route: routeFor(profile, target, method) };
}

/**
 * Answers that can last as long as the client wants (events, logs and stats, attach): at a reload, those of a
 * changed profile are cut, since they would go on showing the old view. Anything else finishes on the profile it
 * started with.
 */
export function longLived(target: Target): boolean {
  if (target.kind === 'events' || target.kind === 'containers-stats') return true;
  if (target.kind === 'container') return LONG_LIVED_ACTIONS.has(target.action);
  return target.kind === 'swarm-object' && target.action === 'logs';
}

const LONG_LIVED_ACTIONS: ReadonlySet<string> = new Set(['logs', 'stats', 'attach', 'attach/ws', 'wait', 'export', 'archive']);

/** Kinds that filters refuse outright: in audit mode they pass, reported. */
const REFUSED_WHILE_FILTERING: ReadonlySet<Target['kind']> = new Set(['unfiltered', 'containers-prune']);
