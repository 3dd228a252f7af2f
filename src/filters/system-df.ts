// GET /system/df: the daemon's disk usage with hidden containers dropped from its per-container lists:
// `Containers` (every API version up to 1.51, and 1.52 without `verbose`) and `ContainerUsage.Items` (1.52
// and later). Images, volumes and build cache name no container. Counts and sizes (`LayersSize`,
// `ContainerUsage.TotalCount`, an image's `Containers`, a volume's `UsageData`) stay as the daemon computed
// them, like `/info`'s counts.
//
// GET /libpod/system/df (Podman's native API): `Containers` is a list of `{ContainerID, Names, ...}` where
// `Names` is the one name as a string, and no labels. The name decides first; with label rules, the others
// are looked up by ID (`resolveContainerRef(id, 'libpod')`), a few at a time. A container gone since is hidden;
// a lookup that fails fails the answer (502). `Images[].Containers` and `Volumes[].Links` are counts, kept.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ownName, type Policy } from '../policy/policy.js';
import type { Resolver } from '../upstream/resolver.js';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import type { FilterSummary } from '../upstream/forward.js';
import { asObject, labelsOf, mapBounded, sendFilteredJson, UnexpectedShape, type JsonObject } from './json-answer.js';

/** Lookups one libpod disk usage answer may have under way at once. */
const LIBPOD_LOOKUPS = 8;

function filterSummaries(policy: Policy, list: unknown, what: string, summary: FilterSummary): unknown[] {
  if (!Array.isArray(list)) throw new UnexpectedShape(`${what} is not a list`);
  return list.filter((entry: unknown) => {
    const container = asObject(entry, `an entry of ${what}`);
    summary.seen++;
    // Only the container's own name counts, never a link alias; without one, only labels can match.
    const name = ownName(container.Names as string[] | undefined) ?? '';
    const visible = policy.visibleContainer({ name, labels: labelsOf(container.Labels, 'a container') });
    if (visible) summary.kept++;
    return visible;
  });
}

/** The disk usage with hidden containers dropped; everything else as it was. Throws UnexpectedShape. */
export function filterSystemDf(policy: Policy, df: unknown, summary: FilterSummary = { kept: 0, seen: 0 }): JsonObject {
  const root = { ...asObject(df, 'the disk usage') };
  // Before 1.52 and at 1.52 without `verbose`: `Containers`. Both lists name the same containers, so the
  // summary counts one of them.
  const legacy: FilterSummary = { kept: 0, seen: 0 };
  const current: FilterSummary = { kept: 0, seen: 0 };
  if (root.Containers !== undefined && root.Containers !== null) {
    root.Containers = filterSummaries(policy, root.Containers, 'Containers', legacy);
  }
  if (root.ContainerUsage !== undefined && root.ContainerUsage !== null) {
    const usage = { ...asObject(root.ContainerUsage, 'ContainerUsage') };
    if (usage.Items !== undefined && usage.Items !== null) {
      usage.Items = filterSummaries(policy, usage.Items, 'ContainerUsage.Items', current);
    }
    root.ContainerUsage = usage;
  }
  const counted = legacy.seen >= current.seen ? legacy : current;
  summary.kept += counted.kept;
  summary.seen += counted.seen;
  return root;
}

/**
 * Podman's disk usage with hidden containers dropped from `Containers`; everything else as it was. Throws
 * UnexpectedShape, or the resolver's LookupError when a container cannot be judged.
 */
export async function filterLibpodSystemDf(
  policy: Policy,
  resolver: Resolver,
  df: unknown,
  summary: FilterSummary = { kept: 0, seen: 0 },
): Promise<JsonObject> {
  const root = { ...asObject(df, 'the disk usage') };
  if (root.Containers === undefined || root.Containers === null) return root;
  if (!Array.isArray(root.Containers)) throw new UnexpectedShape('Containers is not a list');
  const entries = root.Containers.map((entry: unknown) => {
    const container = asObject(entry, 'an entry of Containers');
    if (typeof container.ContainerID !== 'string' || container.ContainerID === '') {
      throw new UnexpectedShape('an entry of Containers has no ContainerID');
    }
    if (typeof container.Names !== 'string') throw new UnexpectedShape('an entry of Containers has no Names');
    return { entry, id: container.ContainerID, name: container.Names };
  });
  const visible = await mapBounded(entries, LIBPOD_LOOKUPS, async ({ id, name }) => {
    if (policy.visibleByName(name)) return true;
    if (!policy.hasLabelRules) return false;
    const resolution = await resolver.resolveContainerRef(id, 'libpod');
    // Removed since the daemon counted it: there is nothing to show.
    return resolution.kind === 'found' && policy.visibleByLabels(resolution.container.labels);
  });
  root.Containers = entries.filter((_entry, index) => visible[index]).map(({ entry }) => entry);
  summary.seen += entries.length;
  summary.kept += (root.Containers as unknown[]).length;
  return root;
}

export async function systemDfRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'system-df' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  if (target.api === 'libpod') {
    await sendFilteredJson(sieve, target, request, reply, (value, summary) =>
      filterLibpodSystemDf(request.profile.policy, sieve.resolver, value, summary),
    );
    return;
  }
  await sendFilteredJson(sieve, target, request, reply, (value, summary) => filterSystemDf(request.profile.policy, value, summary));
}
