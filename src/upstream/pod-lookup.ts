// Podman's pods, as the gates see them: a pod is looked up with libpod's pod inspect, and judged by its members.
// A pod is visible when some member other than its infra container is; it may be acted on as a whole (started,
// stopped, removed, its processes listed, a container joined to it) only when every such member is.
import type { Policy } from '../policy/policy.js';
import type { Resolver } from './resolver.js';
import type { Upstream } from './upstream.js';
import { encodePath } from '../docker/target.js';
import { LookupError, readLookupBody, relayLookupError } from './lookup.js';
import { LIBPOD_LOOKUP_BASE } from './resolver.js';

const FULL_ID = /^[0-9a-f]{64}$/;

export interface PodFacts {
  readonly id: string;
  readonly name: string;
  readonly infraId: string;
  /** Every member, the infra container included. */
  readonly members: ReadonlyArray<{ readonly id: string; readonly name: string }>;
}

/** The pod `ref` names, or undefined if Podman has none. Throws LookupError when it cannot say. */
export async function lookupPod(upstream: Upstream, ref: string, timeoutMs: number): Promise<PodFacts | undefined> {
  const path = encodePath([...LIBPOD_LOOKUP_BASE.split('/').filter(Boolean), 'pods', ...ref.split('/'), 'json']);
  const answer = await readLookupBody(upstream, path, timeoutMs);
  if (answer.status === 404) return undefined;
  relayLookupError(answer);
  if (answer.status !== 200) throw new LookupError(`pod lookup answered ${answer.status}`);
  let inspect: { Id?: unknown; Name?: unknown; InfraContainerID?: unknown; Containers?: unknown } | null;
  try {
    inspect = JSON.parse(answer.body.toString('utf8')) as typeof inspect;
  } catch {
    throw new LookupError('pod lookup answered malformed JSON');
  }
  const id = inspect?.Id;
  const name = inspect?.Name;
  const infraId = inspect?.InfraContainerID ?? '';
  const list = inspect?.Containers ?? [];
  if (typeof id !== 'string' || !FULL_ID.test(id) || typeof name !== 'string' || typeof infraId !== 'string' || !Array.isArray(list)) {
    throw new LookupError('pod lookup answered an unexpected shape');
  }
  const members = list.map((member: unknown) => {
    const { Id: memberId, Name: memberName } = (member ?? {}) as { Id?: unknown; Name?: unknown };
    if (typeof memberId !== 'string' || !FULL_ID.test(memberId) || typeof memberName !== 'string') {
      throw new LookupError('pod lookup answered an unexpected shape');
    }
    return { id: memberId, name: memberName };
  });
  return { id, name, infraId, members };
}

export interface PodVerdict {
  /** Some member other than the infra container is visible. */
  readonly visible: boolean;
  /** There is a member other than the infra container, and every such member is visible. */
  readonly whole: boolean;
}

/** A pod's verdict from its members' IDs and the visible ones among them. Pure. */
export function podVerdict(memberIds: readonly string[], infraId: string, visible: ReadonlySet<string>): PodVerdict {
  const members = memberIds.filter((id) => id !== infraId);
  const seen = members.filter((id) => visible.has(id)).length;
  return { visible: seen > 0, whole: members.length > 0 && seen === members.length };
}

/** Judges a pod's members with `policy` (podVerdict); a member gone since the inspect does not count. */
export async function judgePod(resolver: Resolver, policy: Policy, pod: PodFacts): Promise<PodVerdict> {
  if (!policy.filtering) return { visible: true, whole: true };
  const present: string[] = [];
  const visible = new Set<string>();
  for (const member of pod.members) {
    if (member.id === pod.infraId) continue;
    const resolution = await resolver.resolveContainerRef(member.id, 'libpod');
    if (resolution.kind === 'missing') continue;
    present.push(member.id);
    // Visible only if the resolver answered for this member itself.
    if (resolution.container.id === member.id && policy.visibleContainer(resolution.container)) visible.add(member.id);
  }
  return podVerdict(present, pod.infraId, visible);
}
