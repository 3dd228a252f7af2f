// GET /libpod/containers/stats (Podman's native API): the stats of several containers in one answer, one JSON
// record per line, `{"Error": ..., "Stats": [{"ContainerID", "Name", ...}, ...]}`, streamed while `stream`
// (default true) and every `interval` seconds.
//
// - Every container named in `containers=` (Podman reads the key in any case, gorilla/schema) must be visible.
//   If one is hidden or missing, the daemon is not asked at all: the client gets what Podman answers when it
//   does not have a container named, `200 {"Error":{},"Stats":null}` and the end of the answer.
// - Otherwise the request goes on with those names replaced by the full IDs that were judged, and each record's
//   `Stats` is filtered to the visible containers (judged by `ContainerID` through the resolver; with no
//   container named Podman reports them all, its pods' infra containers included). Records go out as they
//   come, each as the daemon's bytes with the hidden entries cut out of `Stats` (no re-serialising, so numbers
//   such as `SystemNano`, beyond 2^53, keep their digits). A record that is not of that shape cuts the answer.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Policy } from '../policy/policy.js';
import type { Resolver } from '../upstream/resolver.js';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import type { Upstream } from '../upstream/upstream.js';
import { fetchForFilter, sendFiltered, sendUnchanged, withQuery, type FilterSummary } from '../upstream/forward.js';
import { sendLookupFailure } from '../upstream/lookup.js';
import { planLibpodQuery } from './libpod-pods-lookup.js';
import { LineSplitter } from '../stream/lines.js';
import { JsonArraySplitter, MalformedJsonError, type ObjectMembers } from '../stream/json-array.js';
import { mapBounded } from './json-answer.js';

/** Podman's own answer to stats of a container it does not have (recorded, fixtures/libpod-probes.json). */
export const NO_SUCH_CONTAINER_STATS = '{"Error":{},"Stats":null}\n';

/** What Podman accepts as a container name (libpod define.NameRegex); a full or short ID matches it too. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const FULL_ID = /^[0-9a-f]{64}$/;
/** Lookups one request (or one record) may have under way at once. */
const LOOKUPS = 8;

export interface StatsQueryPlan {
  /** The containers named, decoded, in order (empty values dropped, as gorilla/schema drops them). */
  readonly names: readonly string[];
  /** The query to forward, with the i-th name replaced by `ids[i]`, every key spelled `containers`. */
  query(ids: readonly string[]): string;
}

/**
 * Reads `containers=` the way Podman 4 does: Go's url.ParseQuery (pairs split on `&`; one with a `;` or a bad
 * escape ignored; `+` is a space), then gorilla/schema (keys matched case-insensitively, like strings.EqualFold;
 * empty values dropped from a slice; one name per value, no comma splitting). Pure.
 *
 * What Podman would ignore is not forwarded at all (a pair with `;`, which Go before 1.17 split on, a bad escape,
 * a `containers.x` path), so no daemon can find a container name in what was not judged. Every key that reads as
 * `containers` is judged; Podman takes the values of one of them (map order), the forwarded query has them all
 * under one key: no more than what was judged visible.
 */
export function planStatsQuery(query: string): StatsQueryPlan {
  // The same reading of a slice as every libpod query key docker-sieve judges.
  const plan = planLibpodQuery(query, 'containers');
  return { names: [...plan.values], query: (ids) => plan.query(ids) };
}

/** Replies what Podman replies for stats of a container it does not have. */
export function sendNoSuchContainerStats(reply: FastifyReply, upstream: Upstream): void {
  // A stream, as Podman's (chunked, and no Content-Type: it flushes the headers before it writes).
  reply.code(200).headers(upstream.daemonHeaders()).send(Readable.from([Buffer.from(NO_SUCH_CONTAINER_STATS)]));
}

export async function containersStatsRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'containers-stats' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const { upstream, resolver } = sieve;
  const policy = request.profile.policy;
  const plan = planStatsQuery(target.query);
  const ids: string[] = [];
  if (plan.names.some((name) => !CONTAINER_NAME.test(name))) {
    // No container can have that name: Podman's answer, without asking.
    request.decision = 'hidden';
    sendNoSuchContainerStats(reply, upstream);
    return;
  }
  let resolutions;
  try {
    resolutions = await mapBounded(plan.names, LOOKUPS, (name) => resolver.resolveContainerRef(name, 'libpod'));
  } catch (error) {
    sendLookupFailure(reply, upstream, error as Error, target.version);
    return;
  }
  for (const resolution of resolutions) {
    if (resolution.kind === 'missing' || !policy.visibleContainer(resolution.container)) {
      request.decision = 'hidden';
      sendNoSuchContainerStats(reply, upstream);
      return;
    }
    ids.push(resolution.container.id);
  }
  const response = await fetchForFilter(upstream, request, reply, target.version, withQuery(target.path, plan.query(ids)));
  if (response === undefined) return;
  if (response.statusCode !== 200) {
    sendUnchanged(request, reply, response);
    return;
  }
  const summary: FilterSummary = { kept: 0, seen: 0 };
  sendFiltered(request, reply, response, filterContainersStats(policy, resolver, summary), summary);
}

const ERROR_KEY = 'Error';
const STATS_KEY = 'Stats';
const EMPTY_ERROR = Buffer.from('{}');

interface StatsRecord {
  Error?: unknown;
  Stats?: unknown;
}

/** The top-level members of a one-object line, in order: [key, value bytes]. Throws MalformedJsonError. */
function recordMembers(record: Buffer): Array<[string, Buffer]> {
  let found: Array<[string, Buffer]> | undefined;
  const splitter = new JsonArraySplitter(
    (element, members) => {
      if (members === undefined) throw new MalformedJsonError('a stats record is not an object');
      found = membersOf(element, members);
    },
    { members: true },
  );
  splitter.write(Buffer.from('['));
  splitter.write(record);
  splitter.write(Buffer.from(']'));
  splitter.end();
  if (found === undefined) throw new MalformedJsonError('a stats record is not an object');
  return found;
}

function membersOf(element: Buffer, members: ObjectMembers): Array<[string, Buffer]> {
  // A key written with escapes would be another key to JSON.parse than its bytes say: Podman never writes one.
  if (members.escapedKeys) throw new MalformedJsonError('a stats record has an escaped key');
  const out: Array<[string, Buffer]> = [];
  const keys = new Set<string>();
  for (let k = 0; k < members.count; k++) {
    const [keyStart, keyEnd, valueStart, valueEnd] = members.spans.subarray(4 * k, 4 * k + 4);
    const key = element.toString('utf8', keyStart, keyEnd);
    // With duplicates, the bytes would hold a member that JSON.parse (and so the judging) never saw.
    if (keys.has(key)) throw new MalformedJsonError(`a stats record has "${key}" twice`);
    keys.add(key);
    out.push([key, element.subarray(valueStart, valueEnd)]);
  }
  return out;
}

/** The elements of a JSON array's bytes, as they are. */
function arrayElements(bytes: Buffer): Buffer[] {
  const elements: Buffer[] = [];
  const splitter = new JsonArraySplitter((element) => elements.push(element));
  splitter.write(bytes);
  splitter.end();
  return elements;
}

/**
 * A transform from Podman's stats records to the same records with hidden containers cut out of `Stats`. Each
 * record is judged on its own and pushed once judged; one that cannot be read errors the stream (fail closed).
 * `Error` goes out as it came when it is `null` or `{}` (all Podman 4 writes), `{}` otherwise. Members other than
 * `Error` and `Stats` are not passed on: nothing else is known to say nothing about a container.
 */
export function filterContainersStats(policy: Policy, resolver: Resolver, summary: FilterSummary): Transform {
  async function visible(id: string): Promise<boolean> {
    try {
      const resolution = await resolver.resolveContainerRef(id, 'libpod');
      // The resolver must answer for this ID itself, not for a container that a lookup of it found instead.
      return resolution.kind === 'found' && resolution.container.id === id && policy.visibleContainer(resolution.container);
    } catch {
      return false; // cannot judge: drop this record's entry
    }
  }

  async function filterRecord(line: Buffer): Promise<Buffer> {
    const end = line.length > 0 && line[line.length - 1] === 0x0a ? line.length - 1 : line.length;
    const body = line.subarray(0, end);
    if (body.toString('utf8').trim() === '') return line;
    const record = JSON.parse(body.toString('utf8')) as StatsRecord; // a malformed record errors the stream
    if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new MalformedJsonError('a stats record is not an object');
    const members = recordMembers(body);
    const out: Buffer[] = [];
    for (const [key, value] of members) {
      if (key === ERROR_KEY) {
        const error = record.Error;
        const plain = error === null || (typeof error === 'object' && !Array.isArray(error) && Object.keys(error as object).length === 0);
        out.push(Buffer.from(`"${ERROR_KEY}":`), plain ? value : EMPTY_ERROR);
      } else if (key === STATS_KEY) {
        out.push(Buffer.from(`"${STATS_KEY}":`), await filterStats(record.Stats, value));
      } else continue;
      out.push(Buffer.from(','));
    }
    if (out.length > 0) out.pop();
    return Buffer.concat([Buffer.from('{'), ...out, Buffer.from('}'), line.subarray(end)]);
  }

  async function filterStats(stats: unknown, bytes: Buffer): Promise<Buffer> {
    if (stats === null) return bytes;
    if (!Array.isArray(stats)) throw new MalformedJsonError('Stats is not a list');
    const elements = arrayElements(bytes);
    if (elements.length !== stats.length) throw new MalformedJsonError('Stats does not split into its entries');
    const ids = stats.map((entry: unknown) => {
      const id = entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? (entry as { ContainerID?: unknown }).ContainerID : undefined;
      if (typeof id !== 'string' || !FULL_ID.test(id)) throw new MalformedJsonError('an entry of Stats has no ContainerID');
      return id;
    });
    const verdicts = await mapBounded(ids, LOOKUPS, visible);
    const kept = elements.filter((_element, index) => verdicts[index]);
    summary.seen += elements.length;
    summary.kept += kept.length;
    const joined: Buffer[] = [Buffer.from('[')];
    kept.forEach((element, index) => {
      if (index > 0) joined.push(Buffer.from(','));
      joined.push(element);
    });
    joined.push(Buffer.from(']'));
    return Buffer.concat(joined);
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
        for (const line of batch) this.push(await filterRecord(line));
      })().then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      // A record cut off by the end of the stream cannot be judged, so it is not sent.
      callback();
    },
  });
}
