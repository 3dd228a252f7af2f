// Swarm services and tasks. A service is visible by the container rules applied to its own `Spec.Name` and
// `Spec.Labels`; a task is visible if its service is. Lists are filtered; a route about one service or task
// (inspect, logs, update, delete) first asks the daemon which object the ref names (ID, name or ID prefix, as
// the daemon resolves it), judges that object, and only then forwards, with the ref replaced by the full ID
// that was judged. A hidden or missing object is the daemon's own 404 (`service <ref> not found`).
//
// Service labels can change (`docker service update --label-add`), so verdicts are cached for one request only.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Policy } from '../policy/policy.js';
import type { Sieve } from '../sieve.js';
import { encodePath, type SwarmResource, type Target } from '../docker/target.js';
import { dockerError } from '../docker/errors.js';
import { forward, sendDockerError, failClosed, type FilterSummary } from '../upstream/forward.js';
import { LookupError, readLookupBody, relayLookupError, sendLookupFailure } from '../upstream/lookup.js';
import {
  asObject,
  fetchUpstreamJson,
  isObject,
  labelsOf,
  mapBounded,
  sendJson,
  UnexpectedShape,
  type JsonObject,
} from './json-answer.js';

type SwarmListTarget = Extract<Target, { kind: 'swarm-list' }>;
type SwarmObjectTarget = Extract<Target, { kind: 'swarm-object' }>;

const LOOKUP_TIMEOUT_MS = 10_000;
/** Service lookups in flight at once for one request. */
export const LOOKUP_CONCURRENCY = 8;

export interface ServiceFacts {
  readonly id: string;
  readonly name: string;
  readonly visible: boolean;
}

/** Judges a service on its own spec. Throws UnexpectedShape if it is not a service. */
export function judgeService(policy: Policy, service: unknown): ServiceFacts {
  const object = asObject(service, 'a service');
  const spec = asObject(object.Spec, 'a service Spec');
  if (typeof object.ID !== 'string' || object.ID === '') throw new UnexpectedShape('a service has no ID');
  if (typeof spec.Name !== 'string') throw new UnexpectedShape('a service has no name');
  const labels = labelsOf(spec.Labels, 'a service');
  return { id: object.ID, name: spec.Name, visible: policy.visibleContainer({ name: spec.Name, labels }) };
}

/** A task's own ID and its service's. Throws UnexpectedShape if it is not a task. */
export function taskIds(task: unknown): { readonly id: string; readonly serviceId: string } {
  const object = asObject(task, 'a task');
  if (typeof object.ID !== 'string' || object.ID === '') throw new UnexpectedShape('a task has no ID');
  if (typeof object.ServiceID !== 'string' || object.ServiceID === '') throw new UnexpectedShape('a task has no ServiceID');
  return { id: object.ID, serviceId: object.ServiceID };
}

function blankEnv(containerSpec: unknown): void {
  if (isObject(containerSpec)) containerSpec.Env = [];
}

/** SCRUB_ENVS: `Spec.TaskTemplate.ContainerSpec.Env` (and the same in `PreviousSpec`) becomes `[]`. */
export function scrubService(service: JsonObject): JsonObject {
  for (const key of ['Spec', 'PreviousSpec']) {
    const spec = service[key];
    if (isObject(spec) && isObject(spec.TaskTemplate)) blankEnv(spec.TaskTemplate.ContainerSpec);
  }
  return service;
}

/** SCRUB_ENVS: `Spec.ContainerSpec.Env` becomes `[]`. */
export function scrubTask(task: JsonObject): JsonObject {
  if (isObject(task.Spec)) blankEnv(task.Spec.ContainerSpec);
  return task;
}

// Errors the daemon gives about swarm itself, worth passing on as they are: "This node is not a swarm manager".
const RELAYED_SWARM_STATUSES = new Set([503]);

/**
 * GET /services/{ref} or /tasks/{ref} upstream. Undefined when there is no such single object (404, or 400
 * for an ambiguous prefix, which would otherwise tell about the other objects). Throws LookupError.
 */
export async function lookupSwarmObject(sieve: Sieve, resource: SwarmResource, ref: string): Promise<JsonObject | undefined> {
  const answer = await readLookupBody(sieve.upstream, encodePath([resource, ref]), LOOKUP_TIMEOUT_MS);
  if (answer.status === 404 || answer.status === 400) return undefined;
  relayLookupError(answer);
  if (RELAYED_SWARM_STATUSES.has(answer.status)) {
    const contentType = answer.headers['content-type'];
    throw new LookupError(`${resource} lookup answered ${answer.status}`, {
      status: answer.status,
      contentType: typeof contentType === 'string' ? contentType : undefined,
      body: answer.body,
    });
  }
  if (answer.status !== 200) throw new LookupError(`${resource} lookup answered ${answer.status}`);
  let value: unknown;
  try {
    value = JSON.parse(answer.body.toString('utf8'));
  } catch {
    throw new LookupError(`${resource} lookup answered malformed JSON`);
  }
  if (!isObject(value)) throw new LookupError(`${resource} lookup answered an unexpected shape`);
  return value;
}

export type ServiceLookup = { readonly kind: 'found'; readonly service: ServiceFacts } | { readonly kind: 'missing' };

/** Service lookups for one request: each ref is asked upstream once. */
export function createServiceLookups(sieve: Sieve, policy: Policy): (ref: string) => Promise<ServiceLookup> {
  const cache = new Map<string, Promise<ServiceLookup>>();
  async function lookup(ref: string): Promise<ServiceLookup> {
    const object = await lookupSwarmObject(sieve, 'services', ref);
    if (object === undefined) return { kind: 'missing' };
    try {
      return { kind: 'found', service: judgeService(policy, object) };
    } catch (error) {
      throw new LookupError(`service lookup answered ${(error as Error).message}`);
    }
  }
  return (ref) => {
    let pending = cache.get(ref);
    if (pending === undefined) {
      pending = lookup(ref);
      cache.set(ref, pending);
    }
    return pending;
  };
}

/** True if the task's service exists under exactly that ID and is visible. */
async function taskVisible(lookups: (ref: string) => Promise<ServiceLookup>, serviceId: string): Promise<boolean> {
  const found = await lookups(serviceId);
  return found.kind === 'found' && found.service.id === serviceId && found.service.visible;
}

/** The services list with hidden services dropped. Throws UnexpectedShape. */
export function filterServices(policy: Policy, list: unknown, scrub: boolean, summary: FilterSummary = { kept: 0, seen: 0 }): unknown[] {
  if (!Array.isArray(list)) throw new UnexpectedShape('the services list is not a list');
  const kept: unknown[] = [];
  for (const service of list) {
    summary.seen++;
    if (!judgeService(policy, service).visible) continue;
    summary.kept++;
    kept.push(scrub ? scrubService(service as JsonObject) : service);
  }
  return kept;
}

/** The service IDs a tasks list needs judged. Throws UnexpectedShape. */
export function taskServiceIds(list: unknown): string[] {
  if (!Array.isArray(list)) throw new UnexpectedShape('the tasks list is not a list');
  return [...new Set(list.map((task: unknown) => taskIds(task).serviceId))];
}

/** The tasks list with the tasks of services not in `visibleServices` dropped. Throws UnexpectedShape. */
export function filterTasks(
  list: unknown,
  visibleServices: ReadonlySet<string>,
  scrub: boolean,
  summary: FilterSummary = { kept: 0, seen: 0 },
): unknown[] {
  if (!Array.isArray(list)) throw new UnexpectedShape('the tasks list is not a list');
  const kept: unknown[] = [];
  for (const task of list) {
    summary.seen++;
    if (!visibleServices.has(taskIds(task).serviceId)) continue;
    summary.kept++;
    kept.push(scrub ? scrubTask(task as JsonObject) : task);
  }
  return kept;
}

function fail(sieve: Sieve, target: { version: SwarmListTarget['version'] }, reply: FastifyReply, error: Error): void {
  if (error instanceof LookupError) {
    sendLookupFailure(reply, sieve.upstream, error, target.version);
    return;
  }
  failClosed(reply, sieve.upstream, target.version, error);
}

/** GET /services and GET /tasks. */
export async function swarmListRoute(sieve: Sieve, target: SwarmListTarget, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const fetched = await fetchUpstreamJson(sieve, target, request, reply);
  if (fetched.kind !== 'json') return;
  const scrub = request.profile.scrubEnvs;
  const summary: FilterSummary = { kept: 0, seen: 0 };
  try {
    let kept: unknown[];
    if (target.resource === 'services') {
      kept = filterServices(request.profile.policy, fetched.value, scrub, summary);
    } else {
      const lookups = createServiceLookups(sieve, request.profile.policy);
      const serviceIds = taskServiceIds(fetched.value);
      const verdicts = await mapBounded(serviceIds, LOOKUP_CONCURRENCY, (id) => taskVisible(lookups, id));
      const visible = new Set(serviceIds.filter((_id, index) => verdicts[index]));
      kept = filterTasks(fetched.value, visible, scrub, summary);
    }
    request.decision = 'filtered';
    request.listSummary = summary;
    sendJson(reply, fetched.headers, kept);
  } catch (error) {
    fail(sieve, target, reply, error as Error);
  }
}

type SwarmAction = 'inspect' | 'logs' | 'update' | 'delete';

/** The daemon's routes about one service or task; anything else is not a route (404 page not found). */
function swarmAction(method: string, target: SwarmObjectTarget): SwarmAction | undefined {
  // `{id}` is one path segment in the daemon's router.
  if (target.id.includes('/')) return undefined;
  if (method === 'GET' && target.action === '') return 'inspect';
  if (method === 'GET' && target.action === 'logs') return 'logs';
  if (target.resource === 'services' && method === 'POST' && target.action === 'update') return 'update';
  if (target.resource === 'services' && method === 'DELETE' && target.action === '') return 'delete';
  return undefined;
}

function notFound(sieve: Sieve, target: SwarmObjectTarget, reply: FastifyReply): void {
  reply.request.decision = 'hidden';
  const noun = target.resource === 'services' ? 'service' : 'task';
  sendDockerError(reply, sieve.upstream, dockerError(404, `${noun} ${target.id} not found`, target.version));
}

/** GET /services/{ref}, /tasks/{ref}, their logs, POST /services/{ref}/update, DELETE /services/{ref}. */
export async function swarmObjectRoute(sieve: Sieve, target: SwarmObjectTarget, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const action = swarmAction(request.method, target);
  if (action === undefined) {
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, dockerError(404, 'page not found', target.version));
    return;
  }
  if (action === 'inspect') {
    await inspect(sieve, target, request, reply);
    return;
  }
  // Gate first: nothing is forwarded about an object that is hidden or that we could not judge.
  let fullId: string;
  try {
    const object = await lookupSwarmObject(sieve, target.resource, target.id);
    if (object === undefined) return notFound(sieve, target, reply);
    if (target.resource === 'services') {
      const service = judgeService(request.profile.policy, object);
      if (!service.visible) return notFound(sieve, target, reply);
      fullId = service.id;
    } else {
      const task = taskIds(object);
      if (!(await taskVisible(createServiceLookups(sieve, request.profile.policy), task.serviceId))) return notFound(sieve, target, reply);
      fullId = task.id;
    }
  } catch (error) {
    fail(sieve, target, reply, error as Error);
    return;
  }
  request.decision = 'passed';
  const prefix = target.version === undefined ? '' : `/v${target.version.text}`;
  const segments = target.action === '' ? [target.resource, fullId] : [target.resource, fullId, target.action];
  forward(reply, sieve.upstream, target.version, prefix + encodePath(segments), target.query);
}

/** One request upstream (with the client's query, e.g. `insertDefaults`), judged before anything goes out. */
async function inspect(sieve: Sieve, target: SwarmObjectTarget, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const fetched = await fetchUpstreamJson(sieve, target, request, reply, [400, 404]);
  if (fetched.kind === 'replied') return;
  if (fetched.kind === 'status') return notFound(sieve, target, reply);
  const scrub = request.profile.scrubEnvs;
  try {
    const object = asObject(fetched.value, `a ${target.resource === 'services' ? 'service' : 'task'}`);
    if (target.resource === 'services') {
      if (!judgeService(request.profile.policy, object).visible) return notFound(sieve, target, reply);
      if (scrub) scrubService(object);
    } else {
      if (!(await taskVisible(createServiceLookups(sieve, request.profile.policy), taskIds(object).serviceId))) return notFound(sieve, target, reply);
      if (scrub) scrubTask(object);
    }
    request.decision = scrub ? 'scrubbed' : 'passed';
    sendJson(reply, fetched.headers, object);
  } catch (error) {
    fail(sieve, target, reply, error as Error);
  }
}
