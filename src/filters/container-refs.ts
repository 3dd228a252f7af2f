// Requests that name other containers outside the path: a client allowed to POST could otherwise reach a
// hidden container without naming it in the URL.
// - POST /containers/create: HostConfig.NetworkMode / PidMode / IpcMode `container:<ref>`, VolumesFrom, Links
//   (a link copies the target's whole env into the new container).
// - POST /networks/{id}/connect|disconnect: `{"Container": ref}`.
// - POST /build?networkmode=container:<ref>, POST /commit?container=<ref>.
// Every ref is resolved and judged; one hidden or unknown ref and nothing is forwarded. Bodies are forwarded as
// the exact bytes that were judged, never re-serialised.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { dockerError, noSuchContainer } from '../docker/errors.js';
import { forward, readBody, sendDockerError } from '../forward.js';
import { sendLookupFailure } from '../lookup.js';

/** Bodies larger than this are not judged; create and connect bodies are a few KB. */
export const MAX_JUDGED_BODY = 1024 * 1024;

const CONTAINER_MODE = /^container:(.*)$/s;

type Json = unknown;

/** Go's encoding/json matches field names case-insensitively, so every spelling of a key counts. */
function fields(object: Json, name: string): Json[] {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) return [];
  const wanted = name.toLowerCase();
  return Object.entries(object as Record<string, Json>)
    .filter(([key]) => key.toLowerCase() === wanted)
    .map(([, value]) => value);
}

function strings(values: Json[]): string[] {
  return values.flatMap((value) => (Array.isArray(value) ? value : [value])).filter((v): v is string => typeof v === 'string');
}

function modeRef(mode: string): string | undefined {
  const match = CONTAINER_MODE.exec(mode);
  return match === null ? undefined : match[1];
}

/** Container refs in a create body. Pure. */
export function refsInCreateBody(body: Json): string[] {
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
      if (endpoints === null || typeof endpoints !== 'object') continue;
      for (const endpoint of Object.values(endpoints as Record<string, Json>)) {
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

/** The container named by a network connect/disconnect body. Pure. */
export function refsInConnectBody(body: Json): string[] {
  return strings(fields(body, 'Container'));
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
async function judgeRefs(sieve: Sieve, target: RefTarget, reply: FastifyReply, refs: string[]): Promise<Map<string, string> | undefined> {
  const ids = new Map<string, string>();
  for (const ref of refs) {
    let resolution;
    try {
      resolution = await sieve.resolver.resolveContainerRef(ref);
    } catch (error) {
      sendLookupFailure(reply, sieve.upstream, error as Error, target.version);
      return undefined;
    }
    if (resolution.kind === 'missing' || !reply.request.profile.policy.visibleContainer(resolution.container)) {
      reply.request.decision = 'hidden';
      sendDockerError(reply, sieve.upstream, noSuchContainer(ref, target.version));
      return undefined;
    }
    ids.set(ref, resolution.container.id);
  }
  return ids;
}

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
    forward(reply, sieve.upstream, target.version, target.path, query);
    return;
  }

  const stream = request.body as Readable | undefined;
  let body: Buffer;
  try {
    if (Number(request.headers['content-length'] ?? 0) > MAX_JUDGED_BODY) throw new Error('too large');
    body = stream === undefined ? Buffer.alloc(0) : await readBody(stream, MAX_JUDGED_BODY);
  } catch {
    request.decision = 'refused';
    sendDockerError(reply, sieve.upstream, dockerError(413, `docker-sieve: a ${target.kind} body over ${MAX_JUDGED_BODY} bytes is not judged`, target.version));
    return;
  }
  let parsed: Json = {};
  if (body.length > 0) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      request.decision = 'refused';
      sendDockerError(reply, sieve.upstream, dockerError(400, 'docker-sieve: the request body is not valid JSON', target.version));
      return;
    }
  }
  const refs = target.kind === 'container-create' ? refsInCreateBody(parsed) : refsInConnectBody(parsed);
  if ((await judgeRefs(sieve, target, reply, refs)) === undefined) return;
  request.decision = 'passed';
  forward(reply, sieve.upstream, target.version, target.path, target.query, {
    body,
    contentType: request.headers['content-type'] ?? 'application/json',
  });
}
