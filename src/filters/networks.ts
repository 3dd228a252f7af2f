// GET /networks/{id} and GET /networks: the `Containers` map (container ID → endpoint) with hidden containers
// dropped. The list has these maps only for API < 1.28; from 1.28 on its entries carry none (or `{}`) and
// come back as they were.
//
// A container is judged on its name and labels, so every ID is resolved upstream (the resolver's cache, one
// lookup per ID at most, a few at a time). A key that is not a full container ID (`lb-<network>`,
// `ingress-sbox`, `ep-<endpoint>`), a container the resolver cannot find, and any lookup error drop the entry:
// what cannot be judged is not shown.
//
// `verbose=true` on a swarm-scoped network adds `Services` (service name → VIP and tasks). A named entry is
// kept if that service is visible; the entry `""` lists the plain containers attached, as tasks, and keeps
// only those whose endpoint is among the kept `Containers`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { asObject, mapBounded, sendFilteredJson, UnexpectedShape, type JsonObject } from './json-answer.js';
import type { FilterSummary } from '../upstream/forward.js';
import { createServiceLookups, LOOKUP_CONCURRENCY } from './swarm.js';

const FULL_ID = /^[0-9a-f]{64}$/;

export interface NetworkRefs {
  /** Full container IDs among the `Containers` keys. */
  readonly containers: Set<string>;
  /** Service names among the `Services` keys. */
  readonly services: Set<string>;
}

export interface NetworkDecisions {
  /** Container IDs that are visible. */
  readonly containers: ReadonlySet<string>;
  /** Service names that are visible. */
  readonly services: ReadonlySet<string>;
}

function mapOrNothing(value: unknown, what: string): JsonObject | undefined {
  return value === undefined || value === null ? undefined : asObject(value, what);
}

function tasksOf(service: JsonObject): unknown[] | undefined {
  const tasks = service.Tasks;
  if (tasks === undefined || tasks === null) return undefined;
  if (!Array.isArray(tasks)) throw new UnexpectedShape("a network service's Tasks is not a list");
  for (const task of tasks) asObject(task, 'a network service task');
  return tasks;
}

/** What must be decided before a network can be filtered; adds to `refs`. Throws UnexpectedShape. */
export function networkRefs(network: unknown, refs: NetworkRefs = { containers: new Set(), services: new Set() }): NetworkRefs {
  const object = asObject(network, 'a network');
  const containers = mapOrNothing(object.Containers, "a network's Containers");
  if (containers !== undefined) {
    for (const [key, endpoint] of Object.entries(containers)) {
      asObject(endpoint, 'a network endpoint');
      if (FULL_ID.test(key)) refs.containers.add(key);
    }
  }
  const services = mapOrNothing(object.Services, "a network's Services");
  if (services !== undefined) {
    for (const [name, service] of Object.entries(services)) {
      tasksOf(asObject(service, 'a network service'));
      if (name !== '') refs.services.add(name);
    }
  }
  return refs;
}

/** What must be decided before a list of networks can be filtered. Throws UnexpectedShape. */
export function networksListRefs(list: unknown): NetworkRefs {
  if (!Array.isArray(list)) throw new UnexpectedShape('the networks list is not a list');
  const refs: NetworkRefs = { containers: new Set(), services: new Set() };
  for (const network of list) networkRefs(network, refs);
  return refs;
}

/** The network with what `decisions` does not make visible dropped. Throws UnexpectedShape. */
export function filterNetwork(network: unknown, decisions: NetworkDecisions, summary: FilterSummary = { kept: 0, seen: 0 }): JsonObject {
  const object = { ...asObject(network, 'a network') };
  const keptEndpoints = new Set<string>();
  const containers = mapOrNothing(object.Containers, "a network's Containers");
  if (containers !== undefined) {
    const kept: Array<[string, unknown]> = [];
    for (const [key, endpoint] of Object.entries(containers)) {
      const endpointId = asObject(endpoint, 'a network endpoint').EndpointID;
      summary.seen++;
      if (!decisions.containers.has(key)) continue;
      summary.kept++;
      kept.push([key, endpoint]);
      if (typeof endpointId === 'string' && endpointId !== '') keptEndpoints.add(endpointId);
    }
    // fromEntries defines own properties, whatever the key (`__proto__` included).
    object.Containers = Object.fromEntries(kept);
  }
  const services = mapOrNothing(object.Services, "a network's Services");
  if (services !== undefined) {
    const kept: Array<[string, unknown]> = [];
    for (const [name, value] of Object.entries(services)) {
      const service = asObject(value, 'a network service');
      const tasks = tasksOf(service);
      if (name !== '') {
        if (decisions.services.has(name)) kept.push([name, service]);
        continue;
      }
      // Not a service: the plain containers on this network, each as a "task" named after it.
      if (tasks === undefined) continue;
      const visibleTasks = tasks.filter((task) => {
        const endpointId = (task as JsonObject).EndpointID;
        return typeof endpointId === 'string' && keptEndpoints.has(endpointId);
      });
      if (visibleTasks.length > 0) kept.push([name, { ...service, Tasks: visibleTasks }]);
    }
    object.Services = Object.fromEntries(kept);
  }
  return object;
}

/** Resolves what `refs` names. A container or service that cannot be judged is not visible. */
export async function decideNetworkRefs(sieve: Sieve, refs: NetworkRefs, request: FastifyRequest): Promise<NetworkDecisions> {
  const policy = request.profile.policy;
  const containers = new Set<string>();
  const services = new Set<string>();
  let failures = 0;
  await mapBounded([...refs.containers], LOOKUP_CONCURRENCY, async (id) => {
    try {
      const resolution = await sieve.resolver.resolveContainerRef(id);
      // The key must be the container that was judged (a name or prefix could point elsewhere).
      if (resolution.kind === 'found' && resolution.container.id === id && policy.visibleContainer(resolution.container)) containers.add(id);
    } catch {
      failures++;
    }
  });
  if (refs.services.size > 0) {
    const lookups = createServiceLookups(sieve, policy);
    await mapBounded([...refs.services], LOOKUP_CONCURRENCY, async (name) => {
      try {
        const found = await lookups(name);
        if (found.kind === 'found' && found.service.name === name && found.service.visible) services.add(name);
      } catch {
        failures++;
      }
    });
  }
  if (failures > 0) request.log.warn({ failures }, 'network: entries that could not be judged were dropped');
  return { containers, services };
}

export async function networkRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'network' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  await sendFilteredJson(sieve, target, request, reply, async (value, summary) =>
    filterNetwork(value, await decideNetworkRefs(sieve, networkRefs(value), request), summary),
  );
}

export async function networksListRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'networks-list' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  await sendFilteredJson(sieve, target, request, reply, async (value, summary) => {
    const decisions = await decideNetworkRefs(sieve, networksListRefs(value), request);
    return (value as unknown[]).map((network) => filterNetwork(network, decisions, summary));
  });
}
