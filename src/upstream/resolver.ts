// Resolves a container ref (full ID, ID prefix, name, or legacy link alias) to the container the daemon
// would act on, through an inspect upstream, and caches the answer.
//
// Two caches, because the two facts age differently:
// - by full ID: name and labels. A container's ID and labels never change; its name changes only on rename,
//   which the events watch reports.
// - ref → ID: names and prefixes can move to another container at any moment, so this mapping lives for
//   2 s unless the upstream's event stream is live to tell us when to drop it.
// Lookups of the same ref share one upstream call. Errors are never cached.
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Upstream } from './upstream.js';
import { encodePath, type Api } from '../docker/target.js';
import { LookupError, readLookupBody, relayLookupError } from './lookup.js';

export { LookupError } from './lookup.js';

export interface ResolvedContainer {
  readonly id: string;
  /** The container's real name, with its leading `/`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export type Resolution = { readonly kind: 'found'; readonly container: ResolvedContainer } | { readonly kind: 'missing' };

export interface ResolverOptions {
  readonly upstream: Upstream;
  readonly log: Logger;
  /** How long a full-ID entry, or a ref mapping confirmed by a live event stream, is kept. */
  readonly ttlMs?: number;
  /** How long a ref mapping is kept while no event stream tells us about renames and removals. */
  readonly unwatchedTtlMs?: number;
  readonly maxEntries?: number;
  readonly lookupTimeoutMs?: number;
  /** Subscribe to upstream events to invalidate mappings (off in tests that count upstream calls). */
  readonly watchEvents?: boolean;
}

export interface ResolverStats {
  hits: number;
  misses: number;
  lookups: number;
}

export interface Resolver {
  /**
   * The container `ref` names, as the daemon resolves it. `libpod` asks Podman's native inspect (a socket proxy
   * may pass only /libpod); both answer the same facts, cached together by full ID.
   */
  resolveContainerRef(ref: string, api?: Api): Promise<Resolution>;
  readonly stats: ResolverStats;
  /** How many entries each cache holds now (bounded by maxEntries). */
  readonly cacheEntries: { refs: number; containers: number };
  /** True while the upstream's event stream is connected. */
  readonly watching: boolean;
  close(): void;
}

const FULL_ID = /^[0-9a-f]{64}$/;
/** Where libpod lookups go: Podman answers libpod only under a version prefix, and any version will do. */
export const LIBPOD_LOOKUP_BASE = '/v4.0.0/libpod';
const MISSING = '';

interface InspectBody {
  Id?: unknown;
  Name?: unknown;
  Config?: { Labels?: unknown } | null;
}

export function createResolver(options: ResolverOptions): Resolver {
  const { upstream, log } = options;
  const ttlMs = options.ttlMs ?? 30_000;
  const unwatchedTtlMs = Math.min(options.unwatchedTtlMs ?? 2_000, ttlMs);
  const maxEntries = options.maxEntries ?? 10_000;
  const lookupTimeoutMs = options.lookupTimeoutMs ?? 10_000;

  const byId = new LRUCache<string, ResolvedContainer>({ max: maxEntries, ttl: ttlMs });
  const refs = new LRUCache<string, string>({ max: maxEntries, ttl: unwatchedTtlMs });
  const inflight = new Map<string, Promise<Resolution>>();
  const stats: ResolverStats = { hits: 0, misses: 0, lookups: 0 };
  let watching = false;
  let closed = false;
  const watchAbort = new AbortController();

  function refTtl(): number {
    return watching ? ttlMs : unwatchedTtlMs;
  }

  function cached(ref: string, key: string): Resolution | undefined {
    const id = FULL_ID.test(ref) && byId.has(ref) ? ref : refs.get(key);
    if (id === undefined) return undefined;
    if (id === MISSING) return { kind: 'missing' };
    const container = byId.get(id);
    return container === undefined ? undefined : { kind: 'found', container };
  }

  /** `key`: the ref as cached, by API, since a Docker daemon has no libpod inspect to say a ref is missing. */
  async function lookup(ref: string, key: string, api: Api): Promise<Resolution> {
    stats.lookups++;
    // Podman routes libpod only under a version prefix, and any version will do.
    const base = api === 'libpod' ? `${LIBPOD_LOOKUP_BASE}/containers` : 'containers';
    const answer = await readLookupBody(upstream, `${encodePath([...base.split('/').filter(Boolean), ...ref.split('/')])}/json`, lookupTimeoutMs);
    const { status, body } = answer;
    if (status === 404 || status === 400) {
      // 400 is dockerd 24+'s answer to an ambiguous prefix: no single container to show.
      refs.set(key, MISSING, { ttl: unwatchedTtlMs });
      return { kind: 'missing' };
    }
    relayLookupError(answer);
    if (status !== 200) throw new LookupError(`container lookup answered ${status}`);
    let inspect: InspectBody;
    try {
      inspect = JSON.parse(body.toString('utf8')) as InspectBody;
    } catch {
      throw new LookupError('container lookup answered malformed JSON');
    }
    const id = inspect?.Id;
    const name = inspect?.Name;
    const labels = inspect?.Config?.Labels ?? {};
    if (typeof id !== 'string' || !FULL_ID.test(id) || typeof name !== 'string' || typeof labels !== 'object' || labels === null) {
      throw new LookupError('container lookup answered an unexpected shape');
    }
    // Facts only: each profile judges them for itself, so one cache serves every profile.
    const container: ResolvedContainer = { id, name, labels: labels as Record<string, string> };
    byId.set(id, container);
    if (ref !== id) refs.set(key, id, { ttl: refTtl() });
    return { kind: 'found', container };
  }

  function onEvent(line: string): void {
    let event: { Type?: string; Action?: string; Actor?: { ID?: string } };
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    if (event.Type !== 'container') return;
    const action = event.Action ?? '';
    if (action === 'create' || action === 'rename' || action === 'destroy') {
      // Any name or prefix may now point elsewhere (or at a new container).
      refs.clear();
      if (action !== 'create' && event.Actor?.ID !== undefined) byId.delete(event.Actor.ID);
    }
  }

  async function watchOnce(): Promise<void> {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'] }));
    const response = await upstream.request({
      method: 'GET',
      path: `/events?filters=${filters}`,
      signal: watchAbort.signal,
      headersTimeoutMs: lookupTimeoutMs,
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new Error(`events answered ${response.statusCode}`);
    }
    watching = true;
    log.info('resolver: watching upstream events, name mappings are kept until they change');
    let rest = '';
    try {
      for await (const chunk of response.body) {
        rest += (chunk as Buffer).toString('utf8');
        let newline: number;
        while ((newline = rest.indexOf('\n')) !== -1) {
          onEvent(rest.slice(0, newline));
          rest = rest.slice(newline + 1);
        }
      }
    } finally {
      // Mappings kept on the promise of events are no longer safe.
      watching = false;
      refs.clear();
    }
  }

  async function watchLoop(): Promise<void> {
    let delayMs = 1_000;
    let lastProblem = '';
    while (!closed) {
      try {
        await watchOnce();
        delayMs = 1_000;
        lastProblem = '';
      } catch (error) {
        if (closed) return;
        const problem = (error as Error).message;
        if (problem !== lastProblem) {
          log.info({ err: problem }, 'resolver: upstream events unavailable, name mappings live 2 s');
          lastProblem = problem;
        }
        delayMs = Math.min(delayMs * 2, 30_000);
      }
      if (closed) return;
      await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
    }
  }

  if (options.watchEvents ?? true) void watchLoop();

  return {
    stats,
    get cacheEntries() {
      return { refs: refs.size, containers: byId.size };
    },
    get watching() {
      return watching;
    },
    resolveContainerRef(ref: string, api: Api = 'docker'): Promise<Resolution> {
      const key = api === 'docker' ? ref : `${api}:${ref}`;
      const hit = cached(ref, key);
      if (hit !== undefined) {
        stats.hits++;
        return Promise.resolve(hit);
      }
      stats.misses++;
      let pending = inflight.get(key);
      if (pending === undefined) {
        pending = lookup(ref, key, api).finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      return pending;
    },
    close() {
      closed = true;
      watchAbort.abort();
    },
  };
}
