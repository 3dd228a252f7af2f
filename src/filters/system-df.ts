// GET /system/df: the daemon's disk usage with hidden containers dropped from its per-container lists:
// `Containers` (every API version up to 1.51, and 1.52 without `verbose`) and `ContainerUsage.Items` (1.52
// and later). Images, volumes and build cache name no container. Counts and sizes (`LayersSize`,
// `ContainerUsage.TotalCount`, an image's `Containers`, a volume's `UsageData`) stay as the daemon computed
// them, like `/info`'s counts.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ownName, type Policy } from '../policy.js';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import type { FilterSummary } from '../forward.js';
import { asObject, labelsOf, sendFilteredJson, UnexpectedShape, type JsonObject } from './json-answer.js';

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

export async function systemDfRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'system-df' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  await sendFilteredJson(sieve, target, request, reply, (value, summary) => filterSystemDf(request.profile.policy, value, summary));
}
