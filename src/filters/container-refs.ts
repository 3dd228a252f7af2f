// Requests that name other containers outside the path: a client allowed to POST could otherwise reach a
// hidden container without naming it in the URL.
// - POST /containers/create: HostConfig.NetworkMode / PidMode / IpcMode `container:<ref>`, VolumesFrom, Links
//   (a link copies the target's whole env into the new container).
// - POST /networks/{id}/connect|disconnect: `{"Container": ref}`.
// - POST /build?networkmode=container:<ref>, POST /commit?container=<ref>.
// Every ref is resolved and judged; one hidden or unknown ref and nothing is forwarded. Bodies are forwarded as
// the exact bytes that were judged, never re-serialised.
//
// Podman's native API (libpod) names containers elsewhere; see "Podman's native API" below.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { Sieve } from '../sieve.js';
import { LIBPOD_REFUSED, type Target } from '../docker/target.js';
import { dockerError, noSuchContainer } from '../docker/errors.js';
import { forward, readBody, sendDockerError, type ForwardOptions } from '../upstream/forward.js';
import { sendJudgedAnswer } from '../gates/error-answer.js';
import { sendLookupFailure } from '../upstream/lookup.js';
import { bodyNaming, forwardAsMissing, unusedName } from './as-missing.js';
import { judgePod as judgePodMembers, lookupPod } from '../upstream/pod-lookup.js';

/** Bodies larger than this are not judged; create and connect bodies are a few KB. */
export const MAX_JUDGED_BODY = 1024 * 1024;

const CONTAINER_MODE = /^container:(.*)$/s;

type Json = unknown;

/**
 * A value in the body's text. The daemon decodes bodies with Go's encoding/json: a field name matches in any
 * case, with Unicode folding (`HoſtConfig` is `HostConfig`), and a duplicate key is merged into what an earlier
 * one set, where JSON.parse keeps only the last. So refs are read from the text, from every spelling and every
 * duplicate of a key: judging more than the daemon reads is safe, judging less is not.
 */
interface Span {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** Every value of a field `name` of the object `span`, any spelling, duplicates included, in order. */
function fields(span: Span, name: string): Span[] {
  if (span.text[span.start] !== '{') return [];
  const wanted = goFold(name);
  return objectEntries(span.text, span.start)
    .filter((entry) => goFold(entry.key) === wanted)
    .map((entry) => ({ text: span.text, start: entry.start, end: entry.end }));
}

/** Every value of the object `span`. */
function values(span: Span): Span[] {
  if (span.text[span.start] !== '{') return [];
  return objectEntries(span.text, span.start).map((entry) => ({ text: span.text, start: entry.start, end: entry.end }));
}

/** The strings among `spans`, and among the elements of the arrays among them. */
function strings(spans: Span[]): string[] {
  const found: string[] = [];
  for (const span of spans) {
    const value = JSON.parse(span.text.slice(span.start, span.end)) as Json;
    for (const item of Array.isArray(value) ? value : [value]) if (typeof item === 'string') found.push(item);
  }
  return found;
}

/** The whole body as a span; JSON.parse has said it is JSON. */
function bodySpan(text: string): Span {
  JSON.parse(text);
  const start = skipSpace(text, 0);
  return { text, start, end: skipValue(text, start) };
}

function modeRef(mode: string): string | undefined {
  const match = CONTAINER_MODE.exec(mode);
  return match === null ? undefined : match[1];
}

/** Container refs in a create body (its JSON text). Pure; throws SyntaxError for text that is not JSON. */
export function refsInCreateBody(text: string): string[] {
  const body = bodySpan(text);
  const refs: string[] = [];
  for (const hostConfig of fields(body, 'HostConfig')) {
    for (const key of ['NetworkMode', 'PidMode', 'IpcMode']) {
      for (const mode of strings(fields(hostConfig, key))) {
        const ref = modeRef(mode);
        if (ref !== undefined) refs.push(ref);
      }
    }
    // `name[:ro|rw]`: the daemon splits at the first colon.
    for (const spec of strings(fields(hostConfig, 'VolumesFrom'))) refs.push(spec.split(':')[0]!);
    for (const link of strings(fields(hostConfig, 'Links'))) refs.push(linkTarget(link));
  }
  for (const networking of fields(body, 'NetworkingConfig')) {
    for (const endpoints of fields(networking, 'EndpointsConfig')) {
      for (const endpoint of values(endpoints)) {
        for (const link of strings(fields(endpoint, 'Links'))) refs.push(linkTarget(link));
      }
    }
  }
  return refs;
}

/** `name:alias` or `/name:alias` → `name`. */
function linkTarget(link: string): string {
  const name = link.split(':')[0]!;
  return name.startsWith('/') ? name.slice(1) : name;
}

/** The container named by a network connect/disconnect body (its JSON text). Pure; throws as refsInCreateBody. */
export function refsInConnectBody(text: string): string[] {
  return strings(fields(bodySpan(text), 'Container'));
}

/** Container refs in the query of /build and /commit. Pure. */
export function refsInQuery(kind: 'build' | 'commit', query: string): string[] {
  const params = new URLSearchParams(query);
  if (kind === 'commit') return params.getAll('container').filter((ref) => ref !== '');
  return params.getAll('networkmode').flatMap((mode) => {
    const ref = modeRef(mode);
    return ref === undefined ? [] : [ref];
  });
}

type RefTarget = Extract<Target, { kind: 'container-create' | 'network-connect' | 'build' | 'commit' }>;

/** Judges every ref; sends the refusal itself and returns undefined when one may not be used. */
async function judgeRefs(
  sieve: Sieve,
  target: RefTarget,
  reply: FastifyReply,
  refs: string[],
  /** Answers for a hidden or missing ref instead of docker-sieve's own 404 (libpod: as-missing.ts). */
  onHidden?: (ref: string) => void,
): Promise<Map<string, string> | undefined> {
  const ids = new Map<string, string>();
  const api = target.api;
  for (const ref of refs) {
    let resolution;
    if (api === 'libpod' && UNNAMEABLE.has(ref)) {
      // No container is called that (names start with a letter or digit), and a lookup path cannot carry it.
      resolution = { kind: 'missing' } as const;
    } else {
      try {
        resolution = await sieve.resolver.resolveContainerRef(ref, api);
      } catch (error) {
        sendLookupFailure(reply, sieve.upstream, error as Error, target.version);
        return undefined;
      }
    }
    if (resolution.kind === 'missing' || !reply.request.profile.policy.visibleContainer(resolution.container)) {
      reply.request.decision = 'hidden';
      if (onHidden !== undefined) onHidden(ref);
      else sendDockerError(reply, sieve.upstream, noSuchContainer(ref, target.version, api));
      return undefined;
    }
    ids.set(ref, resolution.container.id);
  }
  return ids;
}

/** Refs Podman can never resolve, answered as missing without a lookup. */
const UNNAMEABLE: ReadonlySet<string> = new Set(['', '.', '..']);

export async function containerRefsRoute(
  sieve: Sieve,
  target: RefTarget,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  if (!request.profile.policy.filtering) {
    request.decision = 'passed';
    forward(reply, sieve.upstream, target.version, target.path, target.query);
    return;
  }
  if (target.api === 'libpod') {
    await libpodRefsRoute(sieve, target, request, reply);
    return;
  }
  if (target.kind === 'build' || target.kind === 'commit') {
    // The body (a build context, a commit config) streams on untouched: the refs are in the query.
    const refs = refsInQuery(target.kind, target.query);
    const ids = await judgeRefs(sieve, target, reply, refs);
    if (ids === undefined) return;
    request.decision = 'passed';
    let query = target.query;
    if (target.kind === 'commit' && refs.length > 0) {
      // Like a container route: commit the container that was judged, by its full ID.
      const params = new URLSearchParams(query);
      params.set('container', ids.get(refs[0]!)!);
      query = params.toString();
    }
    forward(reply, sieve.upstream, target.version, target.path, query, judgedAnswer(sieve, target, ids));
    return;
  }

  const body = await readJudgedBody(sieve, target, request, reply);
  if (body === undefined) return;
  let refs: string[] = [];
  if (body.length > 0) {
    try {
      const text = body.toString('utf8');
      refs = target.kind === 'container-create' ? refsInCreateBody(text) : refsInConnectBody(text);
    } catch {
      refuseInvalidJson(sieve, target, reply);
      return;
    }
  }
  const ids = await judgeRefs(sieve, target, reply, refs);
  if (ids === undefined) return;
  request.decision = 'passed';
  forward(reply, sieve.upstream, target.version, target.path, target.query, {
    body,
    contentType: request.headers['content-type'] ?? 'application/json',
    ...judgedAnswer(sieve, target, ids),
  });
}

/** The daemon's answer, its errors judged for the containers they name (gates/error-answer.ts). */
function judgedAnswer(sieve: Sieve, target: RefTarget, ids: ReadonlyMap<string, string>): Pick<ForwardOptions, 'onResponse'> {
  const visible = new Set(ids.values());
  return { onResponse: (reply, response) => sendJudgedAnswer(sieve, reply, response, { api: target.api, version: target.version, visible }) };
}

/** The request's body, read whole up to MAX_JUDGED_BODY; sends the 413 itself and returns undefined past it. */
async function readJudgedBody(sieve: Sieve, target: RefTarget, request: FastifyRequest, reply: FastifyReply): Promise<Buffer | undefined> {
  const stream = request.body as Readable | undefined;
  try {
    if (Number(request.headers['content-length'] ?? 0) > MAX_JUDGED_BODY) throw new Error('too large');
    return stream === undefined ? Buffer.alloc(0) : await readBody(stream, MAX_JUDGED_BODY);
  } catch {
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, dockerError(413, `docker-sieve: a ${target.kind} body over ${MAX_JUDGED_BODY} bytes is not judged`, target.version));
    return undefined;
  }
}

function refuseInvalidJson(sieve: Sieve, target: RefTarget, reply: FastifyReply): void {
  reply.request.decision = 'refused';
  sendDockerError(reply, sieve.upstream, dockerError(400, 'docker-sieve: the request body is not valid JSON', target.version));
}

// ---------------------------------------------------------------------------------------------------------------
// Podman's native API (libpod), as Podman 4.3.1 reads it.
// - POST /libpod/containers/create: a SpecGenerator. `netns`, `pidns`, `ipcns`, `utsns`, `userns`, `cgroupns`
//   `{"nsmode":"container","value":ref}`; `volumes_from: ["ref[:opts]"]`; `dependencyContainers: [ref]`;
//   `devices_from: [ref]` (declared, unused by 4.3.1: judged all the same); `pod`: joining a pod shares the
//   namespaces of its infra container and puts the new container beside every other one, so the pod must hold
//   only containers the profile can see.
// - POST /libpod/networks/{name}/connect `{"container"}`, .../disconnect `{"Container","Force"}`.
// - POST /libpod/commit?container=: forwarded by full ID.
// Podman decodes bodies with Go's encoding/json, which the judging here models exactly for the fields it reads:
// names match case-insensitively with Unicode folding (`ſ` is an `s`, `K` a `k`), every duplicate key is decoded
// in order so the last one wins, a later object is merged field by field into a struct an earlier one set, and
// `null` leaves a string or struct as it was. JSON.parse keeps a duplicate key at its first position with its
// last value, so the keys are read from the text itself. A field of a type Podman cannot decode makes Podman
// refuse the whole body; it is refused here too (400) rather than guessed at.

/** A body field Podman would not decode (wrong type, `null` in a list): the request is refused, not judged. */
export class UnjudgedBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnjudgedBodyError';
  }
}

/** Folds a field name the way Go's encoding/json and gorilla/schema compare them with an ASCII field name. */
export function goFold(name: string): string {
  // toLowerCase already maps the Kelvin sign to `k`; the long s has no lower-case form of its own.
  return name.toLowerCase().replace(/\u017f/g, 's');
}

/** What a create body names: containers to judge, and a pod to join (`''`: none). */
export interface LibpodCreateRefs {
  /** Every container the body names, in the order below, each once. */
  readonly containers: string[];
  readonly pod: string;
}

const NAMESPACE_FIELDS = ['netns', 'pidns', 'ipcns', 'utsns', 'userns', 'cgroupns'] as const;
/** List fields of container refs, and how a ref is read from an entry. */
const REF_LIST_FIELDS: ReadonlyArray<readonly [string, (entry: string) => string]> = [
  // `ref[:z|ro|rw,...]`: Podman splits at the first colon (strings.SplitN(volume, ":", 2)).
  ['volumes_from', (entry) => entry.split(':')[0]!],
  ['dependencycontainers', (entry) => entry],
  ['devices_from', (entry) => entry],
];

/**
 * The containers and pod a libpod create body (SpecGenerator JSON text) names, as Podman decodes it. Pure.
 * Throws SyntaxError for text that is not JSON, UnjudgedBodyError for a field Podman would not decode.
 */
export function libpodRefsInCreateBody(text: string): LibpodCreateRefs {
  const root = topLevelEntries(text);
  const namespaces = new Map<string, { nsmode: string; value: string }>();
  const lists = new Map<string, string[]>();
  let pod = '';
  for (const entry of root) {
    const key = goFold(entry.key);
    if ((NAMESPACE_FIELDS as readonly string[]).includes(key)) {
      const ns = namespaces.get(key) ?? { nsmode: '', value: '' };
      namespaces.set(key, ns);
      const kind = text[entry.start];
      if (kind === 'n') continue; // null: the struct stays as it was
      if (kind !== '{') throw new UnjudgedBodyError(`"${entry.key}" is not an object`);
      for (const field of objectEntries(text, entry.start)) {
        const name = goFold(field.key);
        if (name !== 'nsmode' && name !== 'value') continue;
        const value = stringField(text, field, `${entry.key}.${field.key}`);
        if (value !== undefined) ns[name] = value;
      }
      continue;
    }
    const list = REF_LIST_FIELDS.find(([name]) => name === key);
    if (list !== undefined) {
      const value = JSON.parse(text.slice(entry.start, entry.end)) as Json;
      if (value === null) {
        lists.delete(key); // null: a nil slice
        continue;
      }
      // A `null` element would keep whatever an earlier list left at that index: refused, not modelled.
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
        throw new UnjudgedBodyError(`"${entry.key}" is not a list of strings`);
      }
      lists.set(key, (value as string[]).map(list[1]));
      continue;
    }
    if (key === 'pod') {
      const value = stringField(text, entry, entry.key);
      if (value !== undefined) pod = value;
    }
  }
  const containers: string[] = [];
  for (const name of NAMESPACE_FIELDS) {
    const ns = namespaces.get(name);
    // Podman compares the mode exactly; any spelling of it is judged here.
    if (ns !== undefined && ns.nsmode.toLowerCase() === 'container') containers.push(ns.value);
  }
  for (const [name] of REF_LIST_FIELDS) containers.push(...(lists.get(name) ?? []));
  return { containers: [...new Set(containers)], pod };
}

/** The container a libpod network connect or disconnect body names (none, or one). Pure; throws as above. */
export function libpodRefsInConnectBody(text: string): string[] {
  let container: string | undefined;
  for (const entry of topLevelEntries(text)) {
    if (goFold(entry.key) !== 'container') continue;
    const value = stringField(text, entry, entry.key);
    if (value !== undefined) container = value;
  }
  return container === undefined ? [] : [container];
}

/**
 * Every `container` value of a libpod commit query, any spelling of the key, in order. Podman reads the last
 * value of one spelling, picked at random among spellings; every value is judged, and the query is forwarded
 * with only the last one's full ID (libpodCommitQuery). Pure.
 */
export function libpodCommitRefs(query: string): string[] {
  const refs: string[] = [];
  for (const [key, value] of new URLSearchParams(query)) if (goFold(key) === 'container') refs.push(value);
  return refs;
}

/** The commit query to forward: every spelling of `container` dropped, one `container=<id>` appended. Pure. */
export function libpodCommitQuery(query: string, id: string): string {
  const kept = query.split('&').filter((pair) => {
    const [first] = new URLSearchParams(pair);
    return first === undefined || goFold(first[0]) !== 'container';
  });
  return [...kept.filter((pair) => pair !== ''), `container=${encodeURIComponent(id)}`].join('&');
}

interface Entry {
  readonly key: string;
  /** Where the value's text starts and ends. */
  readonly start: number;
  readonly end: number;
}

/** A string field as Go decodes it into a string: the string, undefined for null (left as it was), else refused. */
function stringField(text: string, entry: Entry, what: string): string | undefined {
  const value = JSON.parse(text.slice(entry.start, entry.end)) as Json;
  if (value === null) return undefined;
  if (typeof value !== 'string') throw new UnjudgedBodyError(`"${what}" is not a string`);
  return value;
}

/** The top-level object's entries, duplicates and all, in order; none when the body is not an object. */
function topLevelEntries(text: string): Entry[] {
  // JSON.parse says whether it is JSON at all (and throws the SyntaxError); the scan below relies on that.
  JSON.parse(text);
  const start = skipSpace(text, 0);
  // Anything but an object (or null) is an error for Podman's decoder: there is nothing it would act on.
  return text[start] === '{' ? objectEntries(text, start) : [];
}

// A scanner over text JSON.parse has accepted: it finds where values start and end without building them, and
// never recurses, so no nesting depth can exhaust the stack.

function skipSpace(text: string, at: number): number {
  let i = at;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

function skipString(text: string, at: number): number {
  let i = at + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') return i + 1;
    i += c === '\\' ? 2 : 1;
  }
  throw new SyntaxError('unterminated string');
}

function skipValue(text: string, at: number): number {
  const c = text[at];
  if (c === '"') return skipString(text, at);
  if (c === '{' || c === '[') {
    let depth = 0;
    let i = at;
    while (i < text.length) {
      const d = text[i];
      if (d === '"') {
        i = skipString(text, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new SyntaxError('unterminated value');
  }
  let i = at;
  while (i < text.length && !',}] \t\n\r'.includes(text[i]!)) i++;
  return i;
}

/** The entries of the object starting at `at`, in order, duplicates included. */
function objectEntries(text: string, at: number): Entry[] {
  const entries: Entry[] = [];
  let i = skipSpace(text, at + 1);
  if (text[i] === '}') return entries;
  while (i < text.length) {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    const start = skipSpace(text, skipSpace(text, keyEnd) + 1); // past the colon
    const end = skipValue(text, start);
    entries.push({ key, start, end });
    i = skipSpace(text, end);
    if (text[i] === '}') return entries;
    i = skipSpace(text, i + 1); // past the comma
  }
  throw new SyntaxError('unterminated object');
}

type LibpodTarget = RefTarget;

async function libpodRefsRoute(sieve: Sieve, target: LibpodTarget, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (target.kind === 'build') {
    // The classifier gives libpod no build target; should one appear, it is not judged.
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, dockerError(403, LIBPOD_REFUSED, target.version));
    return;
  }
  if (target.kind === 'commit') {
    const refs = libpodCommitRefs(target.query);
    if (refs.length === 0) {
      // Podman looks up the empty name and answers 404 itself.
      request.decision = 'passed';
      forward(reply, sieve.upstream, target.version, target.path, target.query);
      return;
    }
    const ids = await judgeRefs(sieve, target, reply, [...new Set(refs)]);
    if (ids === undefined) return;
    request.decision = 'passed';
    forward(reply, sieve.upstream, target.version, target.path, libpodCommitQuery(target.query, ids.get(refs.at(-1)!)!), judgedAnswer(sieve, target, ids));
    return;
  }

  const body = await readJudgedBody(sieve, target, request, reply);
  if (body === undefined) return;
  let containers: string[] = [];
  let pod = '';
  if (body.length > 0) {
    // An empty body: Podman's decoder answers EOF itself.
    try {
      const text = body.toString('utf8');
      if (target.kind === 'container-create') ({ containers, pod } = libpodRefsInCreateBody(text));
      else containers = libpodRefsInConnectBody(text);
    } catch (error) {
      if (!(error instanceof UnjudgedBodyError)) {
        refuseInvalidJson(sieve, target, reply);
        return;
      }
      request.decision = 'refused';
      sendDockerError(reply, sieve.upstream, dockerError(400, `docker-sieve: the request body's ${error.message}, as Podman reads it, so it is not judged`, target.version));
      return;
    }
  }
  const asMissing = (ref: string): void => {
    const placeholder = unusedName();
    forwardAsMissing(reply, sieve, target.version, target.path, target.query, { ref, placeholder, body: bodyNaming(body, ref, placeholder) });
  };
  const ids = await judgeRefs(sieve, target, reply, containers, asMissing);
  if (ids === undefined) return;
  if (pod !== '' && !(await judgePod(sieve, target, reply, pod, body))) return;
  request.decision = 'passed';
  forward(reply, sieve.upstream, target.version, target.path, target.query, {
    body,
    contentType: request.headers['content-type'] ?? 'application/json',
    ...judgedAnswer(sieve, target, ids),
  });
}

/**
 * A container joining `pod` shares its namespaces and sits beside its containers: every one but the infra
 * container must be visible. Sends the refusal (or lookup failure) itself and returns false; true to go on,
 * including for a pod Podman does not have (it answers that itself).
 */
/**
 * May a new container join `pod`? Only if every container in it is visible (joining shares their namespaces).
 * A pod with no visible container is answered as a missing one; a missing one, Podman answers.
 */
async function judgePod(sieve: Sieve, target: LibpodTarget, reply: FastifyReply, pod: string, body: Buffer): Promise<boolean> {
  if (UNNAMEABLE.has(pod)) return true;
  let verdict;
  try {
    const facts = await lookupPod(sieve.upstream, pod, sieve.config.timeouts.lookupMs);
    if (facts === undefined) return true;
    verdict = await judgePodMembers(sieve.resolver, reply.request.profile.policy, facts);
  } catch (error) {
    sendLookupFailure(reply, sieve.upstream, error as Error, target.version);
    return false;
  }
  if (!verdict.visible) {
    const placeholder = unusedName();
    forwardAsMissing(reply, sieve, target.version, target.path, target.query, { ref: pod, placeholder, body: bodyNaming(body, pod, placeholder) });
    return false;
  }
  if (!verdict.whole) {
    reply.request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, dockerError(403, `docker-sieve: pod ${pod} holds containers this profile cannot see, so no container may join it`, target.version));
    return false;
  }
  return true;
}
