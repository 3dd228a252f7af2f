// The pure parts of Podman's pod routes (GET /libpod/pods/json, /libpod/pods/{name}/..., GET /libpod/pods/stats)
// and of generate (kube, systemd), checked against Podman 4.3.1's source (pkg/api/handlers/libpod/pods.go,
// generate.go, pkg/domain/infra/abi/pods_stats.go, generate.go) and the answers recorded in fixtures/libpod-*.
//
// - A pod is visible when some member other than its infra container is; it may be acted on, or shown, as a whole
//   (start, stop, restart, kill, pause, unpause, DELETE, top, generate) only when every such member is.
// - Lists and inspects show only the visible members, and the infra container's ID only when it is visible itself.
// - Query keys are read as Podman reads them: Go's url.ParseQuery, then gorilla/schema, which matches a key with
//   strings.EqualFold (`nameſ` is `names`) and takes a slice from one spelling of the key, whichever Go's map
//   order gives first. So every spelling is judged, and what is forwarded names the judged full IDs under one key.
// - GET /libpod/pods/stats answers one JSON array per line (json.Encoder), the first at once and, with
//   stream=true, another every `delay` seconds until the client goes away: filterPodsStatsStream filters each
//   line as it arrives, so one filter serves both. Podman 4.3.1's handler does not return after refusing
//   `namesOrIDs` together with `all=true` (ValidatePodStatsOptions): it writes its 500 and then the stats of
//   every pod in the same body. planPodsStatsQuery flags that request so it is answered without asking.
// - Pod top has no container column, so its processes are shown only for a pod shown as a whole.
import { Transform, type TransformCallback } from 'node:stream';
import type { Policy } from '../policy/policy.js';
import type { Resolver } from '../upstream/resolver.js';
import { podVerdict } from '../upstream/pod-lookup.js';
import type { FilterSummary } from '../upstream/forward.js';
import { dockerError, libpodError, type DockerErrorReply } from '../docker/errors.js';
import { encodePath, type ApiVersion } from '../docker/target.js';
import { LineSplitter } from '../stream/lines.js';
import { goFold } from './container-refs.js';
import { asObject, mapBounded, UnexpectedShape, type JsonObject } from './json-answer.js';

const FULL_ID = /^[0-9a-f]{64}$/;
/** Pod stats name each container by the first 12 characters of its ID (pods_stats.go: ContainerID[:12]). */
const STATS_CID = /^[0-9a-f]{12,64}$/;
/** Lookups one request (or one stats line) may have under way at once. */
export const POD_LOOKUPS = 8;

// ---------------------------------------------------------------------------------------------------------------
// The query, as Podman reads it.

export interface LibpodQueryPlan {
  /** The values of every spelling of the key, decoded as Go decodes them, in order; empty values dropped. */
  readonly values: readonly string[];
  /**
   * The query to forward: the i-th value replaced by `replacements[i]`, every spelling of the key written as the
   * key itself, the other pairs as the client sent them, and the pairs Go would ignore dropped.
   */
  query(replacements: readonly string[]): string;
}

/**
 * Reads the slice `key` from a raw query as Podman 4 does: url.ParseQuery (pairs split on `&`; a pair with a `;`
 * or a bad escape skipped; `+` a space), then gorilla/schema (keys matched with strings.EqualFold; empty values
 * dropped from a slice; no comma splitting; `key.x` paths are not the key). Pure.
 */
export function planLibpodQuery(query: string, key: string): LibpodQueryPlan {
  const wanted = goFold(key);
  const values: string[] = [];
  const parts: Array<string | number> = [];
  for (const pair of query === '' ? [] : query.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const equals = pair.indexOf('=');
    const rawValue = equals === -1 ? '' : pair.slice(equals + 1);
    const name = goQueryUnescape(equals === -1 ? pair : pair.slice(0, equals));
    const value = goQueryUnescape(rawValue);
    if (name === undefined || value === undefined) continue;
    const folded = goFold(name);
    if (folded === wanted) {
      if (value === '') continue;
      parts.push(values.length);
      values.push(value);
      continue;
    }
    // gorilla/schema reads `key.0` as a path into the key's field: Podman's handlers have no such field.
    if (folded.startsWith(`${wanted}.`) || folded.startsWith(`${wanted}[`)) continue;
    parts.push(pair);
  }
  return {
    values,
    query(replacements) {
      return parts.map((part) => (typeof part === 'number' ? `${key}=${encodeURIComponent(replacements[part]!)}` : part)).join('&');
    },
  };
}

/** True if some spelling of the bool `key` reads as true (strconv.ParseBool), as gorilla/schema may take any one. */
export function libpodQueryTrue(query: string, key: string): boolean {
  const wanted = goFold(key);
  for (const pair of query === '' ? [] : query.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const equals = pair.indexOf('=');
    const name = goQueryUnescape(equals === -1 ? pair : pair.slice(0, equals));
    const value = goQueryUnescape(equals === -1 ? '' : pair.slice(equals + 1));
    if (name !== undefined && value !== undefined && goFold(name) === wanted && GO_TRUE.has(value)) return true;
  }
  return false;
}

export { goFold };

const GO_TRUE: ReadonlySet<string> = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const PERCENT_ESCAPE = /%[0-9a-fA-F]{2}/y;

/** Go's url.QueryUnescape: `+` is a space, `%XX` a byte; undefined for a malformed escape. */
export function goQueryUnescape(text: string): string | undefined {
  if (!text.includes('%')) return text.replace(/\+/g, ' ');
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    const char = text[i]!;
    if (char === '%') {
      PERCENT_ESCAPE.lastIndex = i;
      if (!PERCENT_ESCAPE.test(text)) return undefined;
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const width = (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
    for (const byte of Buffer.from(char === '+' ? ' ' : text.slice(i, i + width), 'utf8')) bytes.push(byte);
    i += width;
  }
  return Buffer.from(bytes).toString('utf8');
}

// ---------------------------------------------------------------------------------------------------------------
// Judging a pod by its members.

/**
 * The full IDs among `ids` whose container is visible. The resolver answers for the ID itself (a name or prefix
 * could point elsewhere); a container gone, or one that cannot be looked up, is not visible.
 */
export async function visibleContainerIds(resolver: Resolver, policy: Policy, ids: Iterable<string>): Promise<Set<string>> {
  const visible = new Set<string>();
  await mapBounded([...new Set(ids)], POD_LOOKUPS, async (id) => {
    if (!FULL_ID.test(id)) return;
    try {
      const resolution = await resolver.resolveContainerRef(id, 'libpod');
      if (resolution.kind === 'found' && resolution.container.id === id && policy.visibleContainer(resolution.container)) visible.add(id);
    } catch {
      // cannot judge: not shown
    }
  });
  return visible;
}

/** The stats `CID`s (12-character ID prefixes) among `cids` that name a visible container, and only that one. */
export async function visibleStatsCids(resolver: Resolver, policy: Policy, cids: Iterable<string>): Promise<Set<string>> {
  const visible = new Set<string>();
  await mapBounded([...new Set(cids)], POD_LOOKUPS, async (cid) => {
    if (!STATS_CID.test(cid)) return;
    try {
      // Podman resolves a prefix that names two containers to neither; the resolver then finds it missing or fails.
      const resolution = await resolver.resolveContainerRef(cid, 'libpod');
      if (resolution.kind === 'found' && resolution.container.id.startsWith(cid) && policy.visibleContainer(resolution.container)) visible.add(cid);
    } catch {
      // cannot judge: not shown
    }
  });
  return visible;
}

// ---------------------------------------------------------------------------------------------------------------
// GET /libpod/pods/json: `[{Id, Name, InfraId, Containers: [{Id, Names, Status}], ...}]`.

function membersOf(value: unknown, what: string): JsonObject[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new UnexpectedShape(`${what}'s Containers is not a list`);
  return value.map((member) => {
    const object = asObject(member, `a member of ${what}`);
    if (typeof object.Id !== 'string') throw new UnexpectedShape(`a member of ${what} has no Id`);
    return object;
  });
}

function infraIdOf(value: unknown, what: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new UnexpectedShape(`${what}'s infra container ID is not a string`);
  return value;
}

/** Every member ID a pods list names, to judge. Throws UnexpectedShape. Pure. */
export function podsListMemberIds(list: unknown): string[] {
  if (!Array.isArray(list)) throw new UnexpectedShape('the pods list is not a list');
  const ids: string[] = [];
  for (const entry of list) {
    const pod = asObject(entry, 'a pod');
    infraIdOf(pod.InfraId, 'a pod');
    for (const member of membersOf(pod.Containers, 'a pod')) ids.push(member.Id as string);
  }
  return ids;
}

/**
 * The pods list with each pod's `Containers` cut to the visible members, and the pods without a visible member
 * (other than the infra container) dropped. `InfraId` is blanked when the infra container is not visible: a
 * hidden container's ID is not shown anywhere. Throws UnexpectedShape. Pure.
 */
export function filterPodsList(list: unknown, visible: ReadonlySet<string>, summary: FilterSummary = { kept: 0, seen: 0 }): JsonObject[] {
  if (!Array.isArray(list)) throw new UnexpectedShape('the pods list is not a list');
  const kept: JsonObject[] = [];
  for (const entry of list) {
    const pod = asObject(entry, 'a pod');
    const infraId = infraIdOf(pod.InfraId, 'a pod');
    const members = membersOf(pod.Containers, 'a pod');
    summary.seen++;
    const ids = members.map((member) => member.Id as string);
    if (!podVerdict(ids, infraId, visible).visible) continue;
    summary.kept++;
    const out: JsonObject = { ...pod, Containers: members.filter((member) => visible.has(member.Id as string)) };
    if (infraId !== '' && !visible.has(infraId)) out.InfraId = '';
    kept.push(out);
  }
  return kept;
}

// ---------------------------------------------------------------------------------------------------------------
// GET /libpod/pods/{name}/json: `{Id, Name, InfraContainerID, NumContainers, Containers: [{Id, Name, State}],
// CreateCommand, ...}`.

/** The member IDs of a pod inspect and its infra container's. Throws UnexpectedShape. Pure. */
export function podInspectMembers(inspect: unknown): { readonly id: string; readonly infraId: string; readonly memberIds: string[] } {
  const pod = asObject(inspect, 'a pod inspect');
  if (typeof pod.Id !== 'string' || !FULL_ID.test(pod.Id)) throw new UnexpectedShape('a pod inspect has no Id');
  return {
    id: pod.Id,
    infraId: infraIdOf(pod.InfraContainerID, 'a pod inspect'),
    memberIds: membersOf(pod.Containers, 'a pod inspect').map((member) => member.Id as string),
  };
}

/**
 * A pod inspect with only the visible members in `Containers` (and in `NumContainers`), `InfraContainerID` blank
 * unless the infra container is visible, and with `scrub` (SCRUB_ENVS) `CreateCommand` blank: it is the argv of
 * the client that created the pod. Throws UnexpectedShape. Pure.
 */
export function filterPodInspect(inspect: unknown, visible: ReadonlySet<string>, scrub: boolean): JsonObject {
  const pod = { ...asObject(inspect, 'a pod inspect') };
  const infraId = infraIdOf(pod.InfraContainerID, 'a pod inspect');
  const members = membersOf(pod.Containers, 'a pod inspect').filter((member) => visible.has(member.Id as string));
  if (pod.Containers !== undefined && pod.Containers !== null) pod.Containers = members;
  if (typeof pod.NumContainers === 'number') pod.NumContainers = members.length;
  if (infraId !== '' && !visible.has(infraId)) pod.InfraContainerID = '';
  if (scrub && pod.CreateCommand !== undefined && pod.CreateCommand !== null) pod.CreateCommand = [];
  return pod;
}

/** The 403 for what acts on, or shows, every member of a pod that holds a container this profile cannot see. */
export function podNotWhole(ref: string, version: ApiVersion | undefined): DockerErrorReply {
  return dockerError(403, `docker-sieve: pod ${ref} holds containers this profile cannot see, so it cannot be acted on or shown as a whole`, version);
}

/** The path to forward for a judged pod route: the ref replaced by the pod's full ID. */
export function podPath(target: { readonly base: string }, id: string, action: string): string {
  return `${target.base}/pods/${id}${action === '' ? '' : `/${action}`}`;
}

// ---------------------------------------------------------------------------------------------------------------
// GET /libpod/pods/stats?namesOrIDs=&all=&stream=&delay=: `[{Pod, CID, Name, CPU, ...}]` per line.

export interface PodsStatsPlan {
  /** The pods named (`namesOrIDs`, every spelling), in order. None: Podman reports every pod. */
  readonly names: readonly string[];
  /**
   * Pods named and `all` true: Podman 4.3.1 answers PODS_STATS_CONFLICT and then, in the same body, the stats of
   * every pod. Answered without asking.
   */
  readonly conflict: boolean;
  /** The query to forward, the i-th name replaced by `ids[i]`. */
  query(ids: readonly string[]): string;
}

export function planPodsStatsQuery(query: string): PodsStatsPlan {
  const plan = planLibpodQuery(query, 'namesOrIDs');
  return { names: plan.values, conflict: plan.values.length > 0 && libpodQueryTrue(query, 'all'), query: (ids) => plan.query(ids) };
}

/** Podman 4.3.1's error for `namesOrIDs` with `all=true` (utils.InternalServerError), without what follows it. */
export const PODS_STATS_CONFLICT: DockerErrorReply = libpodError(500, '--all, --latest and arguments cannot be used together', '--all, --latest and arguments cannot be used together');

/** Podman 4.3.1's answer to stats of a pod it does not have (PodStats: `unable to get list of pods: %w`, 404). */
export function noSuchPodStats(name: string): DockerErrorReply {
  return libpodError(404, 'no such pod', `unable to get list of pods: no pod with name or ID ${name} found: no such pod`);
}

/** The `CID` of each record of one stats answer. Throws UnexpectedShape. Pure. */
export function podStatsCids(records: unknown): string[] {
  if (!Array.isArray(records)) throw new UnexpectedShape('pod stats are not a list');
  return records.map((record) => {
    const cid = asObject(record, 'a pod stats record').CID;
    if (typeof cid !== 'string' || !STATS_CID.test(cid)) throw new UnexpectedShape('a pod stats record has no CID');
    return cid;
  });
}

/** The records of visible containers (by `CID`). Throws UnexpectedShape. Pure. */
export function filterPodStats(records: unknown, visibleCids: ReadonlySet<string>, summary: FilterSummary = { kept: 0, seen: 0 }): unknown[] {
  const cids = podStatsCids(records);
  const kept = (records as unknown[]).filter((_record, index) => visibleCids.has(cids[index]!));
  summary.seen += cids.length;
  summary.kept += kept.length;
  return kept;
}

/**
 * A transform from Podman's pod stats answer (one JSON array per line) to the same lines with the records of
 * hidden containers dropped; each line is judged on its own and pushed once judged (re-serialised: every value
 * is a string). A line that is not an array of records errors the stream, and a line cut off by the end of the
 * stream is not sent: fail closed.
 */
export function filterPodsStatsStream(judge: (cids: readonly string[]) => Promise<ReadonlySet<string>>, summary: FilterSummary): Transform {
  async function filterLine(line: Buffer): Promise<Buffer | undefined> {
    const text = line.toString('utf8');
    if (text.trim() === '') return undefined;
    const records = JSON.parse(text) as unknown;
    const visible = await judge(podStatsCids(records));
    return Buffer.from(`${JSON.stringify(filterPodStats(records, visible, summary))}\n`);
  }
  let lines: Buffer[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        splitter.write(chunk);
      } catch (error) {
        callback(error as Error);
        return;
      }
      const batch = lines;
      lines = [];
      (async () => {
        for (const line of batch) {
          const out = await filterLine(line);
          if (out !== undefined) this.push(out);
        }
      })().then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      callback();
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// GET /libpod/generate/kube?names= (and /libpod/kube/generate), GET /libpod/generate/{name}/systemd.

/** The names of a kube generate (`names`, every spelling, as Podman reads them), and the query naming IDs instead. */
export function planGenerateKubeQuery(query: string): LibpodQueryPlan {
  return planLibpodQuery(query, 'names');
}

/** The path of a systemd generate for the judged full ID, from the classified path and its ref; undefined if they disagree. */
export function generateSystemdPath(path: string, ref: string, id: string): string | undefined {
  const tail = `/generate${encodePath(ref.split('/'))}/systemd`;
  if (!path.endsWith(tail)) return undefined;
  return `${path.slice(0, -tail.length)}/generate/${id}/systemd`;
}

/** The refusal of generate with SCRUB_ENVS. */
export function generateRefusedWhileScrubbing(format: 'kube' | 'systemd', version: ApiVersion | undefined): DockerErrorReply {
  return dockerError(
    403,
    `docker-sieve: generate ${format} is refused with SCRUB_ENVS (scrub_envs), because it exports env values and command lines`,
    version,
  );
}
