// Podman's pods: GET /libpod/pods/json, /libpod/pods/{name}/..., GET /libpod/pods/stats. A pod is visible when
// some member other than its infra container is (upstream/pod-lookup.ts). A hidden pod is answered as Podman answers a
// missing one. Its list entry and its inspect show only the visible members (libpod-pods-lookup.ts: the pure
// filters, on tables and recorded answers). What acts on or shows every member (start, stop, restart, kill,
// pause, unpause, DELETE, top: its processes carry no container column) is allowed only when every member is
// visible. Stats are filtered record by record, by the container each names, one answer or a stream.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { dockerError, noSuchPod } from '../docker/errors.js';
import { refusedPodFilters } from './list-filters.js';
import {
  filterPodInspect,
  filterPodsList,
  filterPodsStatsStream,
  filterPodStats,
  libpodQueryTrue,
  noSuchPodStats,
  planPodsStatsQuery,
  podInspectMembers,
  podNotWhole,
  podPath,
  podsListMemberIds,
  podStatsCids,
  PODS_STATS_CONFLICT,
  visibleContainerIds,
  visibleStatsCids,
} from './libpod-pods-lookup.js';
import { failClosed, fetchForFilter, forward, readBody, sendDockerError, sendFiltered, sendNamingRefs, sendUnchanged, sendUpstreamStream, withQuery, type FilterSummary } from '../upstream/forward.js';
import { sendLookupFailure } from '../upstream/lookup.js';
import { judgePod, lookupPod, type PodFacts } from '../upstream/pod-lookup.js';
import { fetchUpstreamJson, sendJson } from './json-answer.js';

type PodTarget = Extract<Target, { kind: 'pod' }>;
const MAX_POD_BODY = 16 * 1024 * 1024;

/** GET /libpod/pods/json: each pod with its visible members only; a pod with none is dropped. */
export async function podsListRoute(sieve: Sieve, target: Extract<Target, { kind: 'pods-list' }>, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const refused = refusedPodFilters(target.query);
  if (refused !== undefined) {
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, dockerError(403, refused, target.version));
    return;
  }
  const fetched = await fetchUpstreamJson(sieve, target, request, reply);
  if (fetched.kind !== 'json') return;
  try {
    const visible = await visibleContainerIds(sieve.resolver, request.profile.policy, podsListMemberIds(fetched.value));
    const summary: FilterSummary = { kept: 0, seen: 0 };
    const pods = filterPodsList(fetched.value, visible, summary);
    request.decision = 'filtered';
    request.listSummary = summary;
    sendJson(reply, fetched.headers, pods);
  } catch (error) {
    failClosed(reply, sieve.upstream, target.version, error as Error);
  }
}

/** Looks the pod up and judges it; answers the client itself (404, 403, 502) and returns undefined when it may not go on. */
async function admitPod(sieve: Sieve, target: { ref: string; version: Target['version'] }, request: FastifyRequest, reply: FastifyReply, whole: boolean): Promise<PodFacts | undefined> {
  let pod: PodFacts | undefined;
  let verdict;
  try {
    pod = await lookupPod(sieve.upstream, target.ref, sieve.config.timeouts.lookupMs);
    verdict = pod === undefined ? undefined : await judgePod(sieve.resolver, request.profile.policy, pod);
  } catch (error) {
    sendLookupFailure(reply, sieve.upstream, error as Error, target.version);
    return undefined;
  }
  if (pod === undefined || verdict === undefined || !verdict.visible) {
    request.decision = 'hidden';
    sendDockerError(reply, sieve.upstream, noSuchPod(target.ref));
    return undefined;
  }
  if (whole && !verdict.whole) {
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, podNotWhole(target.ref, target.version));
    return undefined;
  }
  return pod;
}

/** /libpod/pods/{name}/json|exists|top|start|stop|restart|kill|pause|unpause and DELETE /libpod/pods/{name}. */
export async function podRoute(sieve: Sieve, target: PodTarget, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const inspect = target.action === 'json';
  const pod = await admitPod(sieve, target, request, reply, !inspect && target.action !== 'exists');
  if (pod === undefined) return;
  const scrub = inspect && request.profile.scrubEnvs;
  request.decision = inspect ? 'filtered' : 'passed';
  forward(reply, sieve.upstream, target.version, podPath(target, pod.id, target.action), target.query, {
    onResponse: async (reply, response) => {
      if (response.statusCode === 404) {
        // The pod went away since it was judged: about the ref the client sent, not our full ID.
        sendNamingRefs(reply, await readBody(response.stream, MAX_POD_BODY), new Map([[pod.id, target.ref]]));
        return;
      }
      if (!inspect || response.statusCode !== 200) {
        sendUpstreamStream(reply, response);
        return;
      }
      const value = JSON.parse((await readBody(response.stream, MAX_POD_BODY)).toString('utf8')) as unknown;
      const { infraId, memberIds } = podInspectMembers(value);
      const visible = await visibleContainerIds(sieve.resolver, request.profile.policy, infraId === '' ? memberIds : [...memberIds, infraId]);
      reply.removeHeader('content-length');
      reply.send(`${JSON.stringify(filterPodInspect(value, visible, scrub))}\n`);
    },
  });
}

/**
 * GET /libpod/pods/stats: every pod named in `namesOrIDs` (any spelling of the key, as Podman reads it) must be
 * visible, else Podman's answer for a missing pod, and the daemon is not asked; the rest go by full ID. The
 * records (one per container, `CID` a 12-character ID prefix) of hidden containers are dropped: from the one
 * answer, or (stream=true, as `podman pod stats` asks) from each line of the stream as it comes.
 */
export async function podsStatsRoute(sieve: Sieve, target: Extract<Target, { kind: 'pods-stats' }>, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const plan = planPodsStatsQuery(target.query);
  if (plan.conflict) {
    // Podman 4.3.1 refuses this with a 500 and then writes the stats of every pod after it: not asked.
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, PODS_STATS_CONFLICT);
    return;
  }
  const ids: string[] = [];
  for (const name of plan.names) {
    let visible = false;
    try {
      const pod = await lookupPod(sieve.upstream, name, sieve.config.timeouts.lookupMs);
      visible = pod !== undefined && (await judgePod(sieve.resolver, request.profile.policy, pod)).visible;
      if (pod !== undefined) ids.push(pod.id);
    } catch (error) {
      sendLookupFailure(reply, sieve.upstream, error as Error, target.version);
      return;
    }
    if (!visible) {
      request.decision = 'hidden';
      sendDockerError(reply, sieve.upstream, noSuchPodStats(name));
      return;
    }
  }
  // The pods judged, by full ID.
  const forwarded = { ...target, query: plan.query(ids) };
  const { resolver } = sieve;
  const { policy } = request.profile;
  const summary: FilterSummary = { kept: 0, seen: 0 };
  if (libpodQueryTrue(target.query, 'stream')) {
    const response = await fetchForFilter(sieve.upstream, request, reply, target.version, withQuery(forwarded.path, forwarded.query));
    if (response === undefined) return;
    if (response.statusCode !== 200) {
      sendUnchanged(request, reply, response);
      return;
    }
    sendFiltered(request, reply, response, filterPodsStatsStream((cids) => visibleStatsCids(resolver, policy, cids), summary), summary);
    return;
  }
  const fetched = await fetchUpstreamJson(sieve, forwarded, request, reply);
  if (fetched.kind !== 'json') return;
  try {
    const visible = await visibleStatsCids(resolver, policy, podStatsCids(fetched.value));
    const kept = filterPodStats(fetched.value, visible, summary);
    request.decision = 'filtered';
    request.listSummary = summary;
    sendJson(reply, fetched.headers, kept);
  } catch (error) {
    failClosed(reply, sieve.upstream, target.version, error as Error);
  }
}
