// /exec/{id}/json|start|resize: an exec belongs to one container for life, so the gate asks the daemon once per
// exec ID which container that is (GET /exec/{id}/json upstream), then judges the container like any other.
import { LRUCache } from 'lru-cache';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { noSuchExec } from '../docker/errors.js';
import { forward, sendDockerError, sendUpstreamStream, type UpstreamResponse } from '../upstream/forward.js';
import { sendScrubbed } from '../filters/scrubbed-inspect.js';
import { scrubExecInspect } from '../filters/exec-inspect.js';
import type { ResolvedContainer, Resolver } from '../upstream/resolver.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Sieve } from '../sieve.js';
import { encodePath, type Api, type Target } from '../docker/target.js';
import { LIBPOD_LOOKUP_BASE } from '../upstream/resolver.js';
import { LookupError, readLookupBody, relayLookupError, sendLookupFailure } from '../upstream/lookup.js';

export type ExecResolution =
  | { readonly kind: 'found'; readonly execId: string; readonly container: ResolvedContainer }
  | { readonly kind: 'missing' };

export interface ExecResolver {
  /** `libpod` asks Podman's native exec inspect (a socket proxy may pass only /libpod). */
  resolveExec(id: string, api?: Api): Promise<ExecResolution>;
}

export interface ExecResolverOptions {
  readonly upstream: Upstream;
  readonly resolver: Resolver;
  readonly maxEntries?: number;
  /** An exec ID never moves to another container, so this only bounds memory. */
  readonly ttlMs?: number;
  readonly lookupTimeoutMs?: number;
}

const EXEC_ID = /^[0-9a-f]{64}$/;

export function createExecResolver(options: ExecResolverOptions): ExecResolver {
  const { upstream, resolver } = options;
  const lookupTimeoutMs = options.lookupTimeoutMs ?? 10_000;
  const owners = new LRUCache<string, { execId: string; containerId: string }>({
    max: options.maxEntries ?? 10_000,
    ttl: options.ttlMs ?? 10 * 60_000,
  });
  const inflight = new Map<string, Promise<{ execId: string; containerId: string } | undefined>>();

  async function lookupOwner(id: string, api: Api): Promise<{ execId: string; containerId: string } | undefined> {
    const base = api === 'libpod' ? LIBPOD_LOOKUP_BASE : '';
    const answer = await readLookupBody(upstream, `${base}${encodePath(['exec', ...id.split('/')])}/json`, lookupTimeoutMs);
    const { status, body } = answer;
    if (status === 404 || status === 400) return undefined;
    relayLookupError(answer);
    if (status !== 200) throw new LookupError(`exec lookup answered ${status}`);
    let inspect: { ID?: unknown; ContainerID?: unknown };
    try {
      inspect = JSON.parse(body.toString('utf8'));
    } catch {
      throw new LookupError('exec lookup answered malformed JSON');
    }
    if (typeof inspect?.ID !== 'string' || !EXEC_ID.test(inspect.ID) || typeof inspect.ContainerID !== 'string') {
      throw new LookupError('exec lookup answered an unexpected shape');
    }
    const owner = { execId: inspect.ID, containerId: inspect.ContainerID };
    owners.set(api === 'docker' ? id : `${api}:${id}`, owner);
    return owner;
  }

  return {
    async resolveExec(id, api = 'docker') {
      const key = api === 'docker' ? id : `${api}:${id}`;
      let owner = owners.get(key);
      if (owner === undefined) {
        let pending = inflight.get(key);
        if (pending === undefined) {
          pending = lookupOwner(id, api).finally(() => inflight.delete(key));
          inflight.set(key, pending);
        }
        owner = await pending;
      }
      if (owner === undefined) return { kind: 'missing' };
      const container = await resolver.resolveContainerRef(owner.containerId, api);
      if (container.kind === 'missing') return { kind: 'missing' };
      return { kind: 'found', execId: owner.execId, container: container.container };
    },
  };
}

/**
 * The podman client starts an exec with a plain POST that the daemon hijacks: a 200 with no length, then the raw
 * stream until the connection closes. Chunked framing would corrupt that stream, so it goes out as it came, and
 * the connection closes after it.
 */
function rawUnlessFramed(reply: FastifyReply, response: UpstreamResponse): void {
  if (response.headers['content-length'] !== undefined || response.headers['transfer-encoding'] !== undefined) return;
  reply.raw.useChunkedEncodingByDefault = false;
  reply.raw.shouldKeepAlive = false;
}

export async function execRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'exec' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  let resolution: ExecResolution;
  try {
    resolution = await sieve.execs.resolveExec(target.id, target.api);
  } catch (error) {
    sendLookupFailure(reply, sieve.upstream, error as Error, target.version);
    return;
  }
  if (resolution.kind === 'missing' || !request.profile.policy.visibleContainer(resolution.container)) {
    request.decision = 'hidden';
    sendDockerError(reply, sieve.upstream, noSuchExec(target.id, target.version, target.api));
    return;
  }
  const scrub = request.profile.scrubEnvs && target.action === 'json';
  request.decision = scrub ? 'scrubbed' : 'passed';
  forward(reply, sieve.upstream, target.version, `${target.base}/exec/${resolution.execId}/${target.action}`, target.query, {
    onResponse: (reply, response) => {
      if (scrub) return sendScrubbed(reply, response, scrubExecInspect);
      if (target.action === 'start') rawUnlessFramed(reply, response);
      sendUpstreamStream(reply, response);
    },
  });
}
