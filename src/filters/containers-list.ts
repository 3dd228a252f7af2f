// GET /containers/json: the upstream's array, streamed, with hidden containers dropped and kept elements
// emitted byte for byte. `limit` is applied here, after filtering, because the daemon applies it before we
// see the list.
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { JsonArraySplitter, MalformedJsonError, type ObjectMembers } from '../stream/json-array.js';
import { ownName, type Policy } from '../policy/policy.js';
import type { Sieve } from '../sieve.js';
import type { Api, Target } from '../docker/target.js';
import { FILTER_COMMITTED, fetchForFilter, readBody, sendDockerError, sendFilteredOnceCommitted, sendNamingRefs, sendUnchanged, withQuery, type FilterSummary } from '../upstream/forward.js';
import { dockerError, noSuchContainer } from '../docker/errors.js';
import { endToEndHeaders } from '../upstream/upstream.js';
import { sendLookupFailure } from '../upstream/lookup.js';
import { unusedName } from './as-missing.js';
import { planContainerRefFilters } from './list-filters.js';

export interface ListQuery {
  /** The query to send upstream. */
  readonly upstreamQuery: string;
  /** How many visible containers to return at most; undefined for all. */
  readonly limit: number | undefined;
}

const ATOI = /^[+-]?[0-9]+$/;

/**
 * Moves `limit` from the upstream query to us. A positive limit makes the daemon include stopped containers,
 * so `all=1` takes its place. A limit the daemon would reject is left for the daemon to reject.
 */
export function planListQuery(query: string): ListQuery {
  const params = new URLSearchParams(query);
  const raw = params.get('limit'); // dockerd reads the first value of a repeated key
  if (raw === null || !ATOI.test(raw)) return { upstreamQuery: query, limit: undefined };
  const limit = Number(raw);
  if (limit <= 0) return { upstreamQuery: query, limit: undefined };
  params.delete('limit');
  params.delete('all');
  params.append('all', '1');
  return { upstreamQuery: params.toString(), limit };
}

/**
 * The same for Podman's list: its query keys are read in any case (gorilla/schema), `last` is the older name of
 * `limit`, and the last value of a key counts. A positive limit shows stopped containers too, so `all=true`.
 */
export function planLibpodListQuery(query: string): ListQuery {
  const params = new URLSearchParams(query);
  let limit: number | undefined;
  for (const [key, value] of params) {
    const name = key.toLowerCase();
    if ((name === 'limit' || name === 'last') && ATOI.test(value) && Number(value) > 0) limit = Number(value);
  }
  if (limit === undefined) return { upstreamQuery: query, limit: undefined };
  const kept = new URLSearchParams();
  for (const [key, value] of params) if (!['limit', 'last', 'all'].includes(key.toLowerCase())) kept.append(key, value);
  kept.append('all', 'true');
  return { upstreamQuery: kept.toString(), limit };
}

export type ListSummary = FilterSummary;

interface ListEntry {
  Names?: unknown;
  Labels?: unknown;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const COMMA_BYTE = 0x2c;
const CLOSE = Buffer.from(']\n');
const NAMES = Buffer.from('Names');
const LABELS = Buffer.from('Labels');

function parseMember(element: Buffer, members: ObjectMembers, key: Buffer): unknown {
  const value = members.value(element, key);
  return value === undefined ? undefined : JSON.parse(value.toString('utf8'));
}

/**
 * Is this list element visible? Decided on `Names` and `Labels` exactly as `JSON.parse` of the whole element
 * would give them, but only the values the decision needs are parsed: the splitter has found them and checked
 * the element's top-level `{"key": value, ...}` structure. `Labels` is parsed only when the name does not
 * already decide. A key written with escapes (`"N\u0061mes"` is `Names` too) is rare enough to fall back to
 * parsing the whole element.
 */
export function visibleListEntry(policy: Policy, element: Buffer, members: ObjectMembers | undefined, api: Api = 'docker'): boolean {
  if (members === undefined) throw new MalformedJsonError('a list element is not an object');
  if (!policy.filtering) return true;
  const nameOf = api === 'libpod' ? libpodName : ownName;
  if (members.escapedKeys) {
    const entry = JSON.parse(element.toString('utf8')) as ListEntry;
    return policy.visibleContainer({ name: nameOf(entry.Names as string[] | undefined) ?? '', labels: asLabels(entry.Labels) });
  }
  // A container without an own name can only be matched by its labels.
  const name = nameOf(parseMember(element, members, NAMES) as string[] | undefined);
  if (policy.visibleByName(name ?? '')) return true;
  return policy.hasLabelRules && policy.visibleByLabels(asLabels(parseMember(element, members, LABELS)));
}

/** Podman has no link aliases: a libpod list entry's `Names` is the container's one name, without a `/`. */
function libpodName(names: readonly string[] | null | undefined): string | undefined {
  return Array.isArray(names) && names.length === 1 && typeof names[0] === 'string' ? names[0] : undefined;
}

function asLabels(labels: unknown): Record<string, string> | null {
  return labels !== null && typeof labels === 'object' ? (labels as Record<string, string>) : null;
}

/**
 * A transform from the upstream's list bytes to the filtered list bytes. It errors rather than leak.
 *
 * It pushes nothing, not even the opening bracket, until the list is known to be one: the first element is
 * complete (kept or not) or the array has ended. Then it emits FILTER_COMMITTED, so the route can still answer
 * a 502 for garbage, an empty body or a cut inside the first element instead of a 200 that breaks off.
 *
 * Kept elements are passed on as views of the upstream's chunks, never copied: a copy of every kept byte would
 * double the garbage a large list makes, and with it the peak memory. Consecutive kept elements that stand in
 * one chunk separated by a single comma go out as one view, and an element goes out together with the comma
 * just before it, so there are few pushes even when every other container is hidden. The output is the same
 * however the input is cut: kept elements joined by single commas.
 */
export function filterContainerList(policy: Policy, limit: number | undefined, summary: ListSummary, api: Api = 'docker'): Transform {
  let full = false;
  let committed = false;
  let received = false;
  let transform: Transform;
  let chunk: Buffer = OPEN;
  // The run of `chunk` to pass on next: [runStart, runEnd), or none when runEnd is -1.
  let runStart = 0;
  let runEnd = -1;
  function flushRun(): void {
    if (runEnd === -1) return;
    transform.push(chunk.subarray(runStart, runEnd));
    runEnd = -1;
  }
  function commit(): void {
    committed = true;
    transform.push(OPEN);
    transform.emit(FILTER_COMMITTED);
  }
  const splitter = new JsonArraySplitter(
    (element, members) => {
      summary.seen++;
      if (!committed) commit();
      if (full) return;
      if (!visibleListEntry(policy, element, members, api)) return;
      const comma = summary.kept > 0;
      summary.kept++;
      if (limit !== undefined && summary.kept >= limit) full = true;
      const at = splitter.elementOffset;
      if (at === -1) {
        // It came in pieces and is a copy of its own already.
        flushRun();
        transform.push(comma ? Buffer.concat([COMMA, element]) : element);
        return;
      }
      const end = at + element.length;
      if (comma && runEnd !== -1 && at === runEnd + 1 && chunk[runEnd] === COMMA_BYTE) {
        runEnd = end; // right after the last kept one, one comma between
        return;
      }
      flushRun();
      if (!comma) runStart = at;
      else if (at > 0 && chunk[at - 1] === COMMA_BYTE) runStart = at - 1;
      else {
        transform.push(COMMA);
        runStart = at;
      }
      runEnd = end;
    },
    { members: true },
  );
  transform = new Transform({
    transform(input: Buffer, _encoding, callback: TransformCallback) {
      chunk = input;
      received ||= input.length > 0;
      try {
        splitter.write(input);
        if (!committed && splitter.done) commit(); // `[]`
      } catch (error) {
        runEnd = -1;
        callback(error as Error);
        return;
      }
      flushRun();
      callback();
    },
    flush(callback: TransformCallback) {
      try {
        if (!received) throw new MalformedJsonError('the answer is empty');
        splitter.end();
        this.push(CLOSE);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  return transform;
}

/**
 * The route: fetch the list upstream and stream it back filtered. Non-200 answers pass through unchanged; a 200
 * that is not a list is a 502 until the first element is complete, a cut connection after.
 */
export async function containersListRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'containers-list' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const judged = await judgeRefFilters(sieve, target, request, reply);
  if (judged === undefined) return;
  const plan = target.api === 'libpod' ? planLibpodListQuery(judged.query) : planListQuery(judged.query);
  const response = await fetchForFilter(sieve.upstream, request, reply, target.version, withQuery(target.path, plan.upstreamQuery));
  if (response === undefined) return;
  if (judged.placeholders.size > 0) {
    // A hidden container was named: the daemon was asked about a name no container has.
    request.decision = 'hidden';
    if (response.statusCode === 200) {
      // Something has that name after all: say nothing of it, and nothing of the hidden one.
      await response.body.dump().catch(() => undefined);
      sendDockerError(reply, sieve.upstream, noSuchContainer(judged.placeholders.values().next().value!, target.version, target.api));
      return;
    }
    // The daemon's own answer for a missing container, about the ref the client sent.
    const body = await readBody(response.body, MAX_ERROR_BODY);
    reply.code(response.statusCode).headers(endToEndHeaders(response.headers));
    sendNamingRefs(reply, body, judged.placeholders);
    return;
  }
  if (response.statusCode !== 200) {
    sendUnchanged(request, reply, response);
    return;
  }
  const summary: ListSummary = { kept: 0, seen: 0 };
  const filter = filterContainerList(request.profile.policy, plan.limit, summary, target.api);
  sendFilteredOnceCommitted(request, reply, response, filter, summary, {
    upstream: sieve.upstream,
    version: target.version,
    what: 'container list',
  });
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * The containers that `before` and `since` name (list-filters.ts), judged before the list is asked for: a visible
 * one is named by its full ID, a hidden one by a name no container has (placeholder → the client's ref), a missing
 * one as it came. Answers the client itself (400, 502) and returns undefined when the list may not be asked for.
 */
async function judgeRefFilters(
  sieve: Sieve,
  target: Extract<Target, { kind: 'containers-list' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<{ query: string; placeholders: ReadonlyMap<string, string> } | undefined> {
  const plan = planContainerRefFilters(target.query);
  if (plan.kind === 'none') return { query: target.query, placeholders: new Map() };
  if (plan.kind === 'refuse') {
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, dockerError(400, plan.message, target.version));
    return undefined;
  }
  const replacements = new Map<string, string>();
  const placeholders = new Map<string, string>();
  for (const { ref, lookupRef } of plan.refs) {
    let resolution;
    try {
      resolution = await sieve.resolver.resolveContainerRef(lookupRef, target.api);
    } catch (error) {
      sendLookupFailure(reply, sieve.upstream, error as Error, target.version);
      return undefined;
    }
    if (resolution.kind === 'missing') continue;
    if (request.profile.policy.visibleContainer(resolution.container)) {
      // By its full ID, so that the daemon looks up the container that was judged. A prefix goes as it came:
      // dockerd takes only a full ID or a name here (measured), Podman a prefix too, each as straight.
      const { id, name } = resolution.container;
      if (lookupRef === id || lookupRef === (name.startsWith('/') ? name.slice(1) : name)) replacements.set(ref, id);
      continue;
    }
    const placeholder = unusedName();
    replacements.set(ref, placeholder);
    placeholders.set(placeholder, ref);
  }
  return { query: plan.query(replacements), placeholders };
}
