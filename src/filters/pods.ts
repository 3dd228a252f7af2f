// Podman's pods: GET /libpod/pods/json, /libpod/pods/{name}/..., GET /libpod/pods/stats. A pod is visible when
// some member other than its infra container is (pod-lookup.ts). A hidden pod is answered as Podman answers a
// missing one. Its list entry and its inspect show only the visible members. What acts on or shows every member
// (start, stop, restart, kill, pause, unpause, DELETE, top: its processes carry no container column) is allowed
// only when every member is visible. Stats are filtered record by record, by the container each names.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { dockerError, noSuchPod } from '../docker/errors.js';
import { libpodQueryTrue, noSuchPodStats, planPodsStatsQuery, PODS_STATS_CONFLICT } from './libpod-pods-lookup.js';
import { failClosed, forward, readBody, sendDockerError, sendUpstreamStream, type FilterSummary } from '../forward.js';
import { sendLookupFailure } from '../lookup.js';
import { judgePod, lookupPod, type PodFacts } from '../pod-lookup.js';
import { asObject, fetchUpstreamJson, mapBounded, sendJson, UnexpectedShape } from './json-answer.js';

type PodTarget = Extract<Target, { kind: 'pod' }>;
const LOOKUP_CONCURRENCY = 8;
const MAX_POD_BODY = 16 * 1024 * 1024;

/** GET /libpod/pods/json: each pod with its visible members only; a pod with none is dropped. */
export async function podsListRoute(sieve: Sieve, target: Extract<Target, { kind: 'pods-list' }>, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const fetched = await fetchUpstreamJson(sieve, target, request, reply);
  if (fetched.kind !== 'json') return;
  try {
    if (!Array.isArray(fetched.value)) throw new UnexpectedShape('the pods list is not an array');
    const summary: FilterSummary = { kept: 0, seen: 0 };
    const pods = await mapBounded(fetched.value, LOOKUP_CONCURRENCY, async (value) => {
      const pod = asObject(value, 'a pod');
      const members = pod.Containers ?? [];
      if (!Array.isArray(members)) throw new UnexpectedShape("a pod's Containers is not a list");
      const kept = [];
      for (const member of members) {
        const id = asObject(member, 'a pod member').Id;
        if (typeof id !== 'string') throw new UnexpectedShape('a pod member has no Id');
        if (await visibleMember(sieve, request, id)) kept.push(member);
      }
      summary.seen++;
      if (!kept.some((member) => (member as { Id: string }).Id !== pod.InfraId)) return undefined;
      summary.kept++;
      return { ...pod, Containers: kept };
    });
    request.decision = 'filtered';
    request.listSummary = summary;
    sendJson(reply, fetched.headers, pods.filter((pod) => pod !== undefined));
  } catch (error) {
    failClosed(reply, sieve.upstream, target.version, error as Error);
  }
}

async function visibleMember(sieve: Sieve, request: FastifyRequest, id: string): Promise<boolean> {
  const resolution = await sieve.resolver.resolveContainerRef(id, 'libpod');
  return resolution.kind === 'found' && request.profile.policy.visibleContainer(resolution.container);
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
    sendDockerError(reply, sieve.upstream, dockerError(403, `docker-sieve: pod ${target.ref} holds containers this profile cannot see, so it is refused as a whole`, target.version));
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
  const path = `${target.base}/pods/${pod.id}${target.action === '' ? '' : `/${target.action}`}`;
  forward(reply, sieve.upstream, target.version, path, target.query, {
    onResponse: async (reply, response) => {
      if (response.statusCode === 404) {
        // The pod went away since it was judged: about the ref the client sent, not our full ID.
        const body = await readBody(response.stream, MAX_POD_BODY);
        reply.removeHeader('content-length');
        reply.send(body.toString('utf8').replaceAll(pod.id, target.ref));
        return;
      }
      if (!inspect || response.statusCode !== 200) {
        sendUpstreamStream(reply, response);
        return;
      }
      const value = asObject(JSON.parse((await readBody(response.stream, MAX_POD_BODY)).toString('utf8')), 'a pod inspect');
      const members = value.Containers ?? [];
      if (!Array.isArray(members)) throw new UnexpectedShape("a pod's Containers is not a list");
      const kept = [];
      for (const member of members) {
        const id = asObject(member, 'a pod member').Id;
        if (typeof id !== 'string') throw new UnexpectedShape('a pod member has no Id');
        if (await visibleMember(sieve, request, id)) kept.push(member);
      }
      value.Containers = kept;
      // The argv of the client that created the pod.
      if (scrub && value.CreateCommand !== undefined) value.CreateCommand = [];
      reply.removeHeader('content-length');
      reply.send(`${JSON.stringify(value)}\n`);
    },
  });
}

/**
 * GET /libpod/pods/stats: every pod named in `namesOrIDs` (any spelling of the key, as Podman reads it) must be
 * visible, else Podman's answer for a missing pod, and the daemon is not asked; the rest go by full ID. The records (one per container,
 * `CID` a 12-character ID prefix) of hidden containers are dropped. A stream (stream=true) is refused: the
 * podman client asks for one answer, and a filtered stream of these records is not worth its risk.
 */
export async function podsStatsRoute(sieve: Sieve, target: Extract<Target, { kind: 'pods-stats' }>, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const plan = planPodsStatsQuery(target.query);
  if (plan.conflict) {
    // Podman 4.3.1 refuses this with a 500 and then writes the stats of every pod after it: not asked.
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, PODS_STATS_CONFLICT);
    return;
  }
  if (libpodQueryTrue(target.query, 'stream')) {
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, dockerError(403, 'docker-sieve: streamed pod stats are refused while container filters are active; ask without stream', target.version));
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
  const fetched = await fetchUpstreamJson(sieve, forwarded, request, reply);
  if (fetched.kind !== 'json') return;
  try {
    if (!Array.isArray(fetched.value)) throw new UnexpectedShape('pod stats are not an array');
    const summary: FilterSummary = { kept: 0, seen: 0 };
    const verdicts = await mapBounded(fetched.value, LOOKUP_CONCURRENCY, async (value) => {
      const cid = asObject(value, 'a pod stats record').CID;
      if (typeof cid !== 'string' || !/^[0-9a-f]{12,64}$/.test(cid)) throw new UnexpectedShape('a pod stats record has no CID');
      return visibleMember(sieve, request, cid);
    });
    const kept = fetched.value.filter((_value, index) => verdicts[index]);
    summary.seen = verdicts.length;
    summary.kept = kept.length;
    request.decision = 'filtered';
    request.listSummary = summary;
    sendJson(reply, fetched.headers, kept);
  } catch (error) {
    failClosed(reply, sieve.upstream, target.version, error as Error);
  }
}


