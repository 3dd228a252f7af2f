// GET /system/df: the daemon's disk usage with hidden containers dropped from its per-container lists:
// `Containers` (every API version up to 1.51, and 1.52 without `verbose`) and `ContainerUsage.Items` (1.52
// and later). Images, volumes and build cache name no container. Counts and sizes (`LayersSize`,
// `ContainerUsage.TotalCount`, an image's `Containers`, a volume's `UsageData`) stay as the daemon computed
// them, like `/info`'s counts.
//
// Also the pieces every buffered JSON filter here shares (system df, networks, swarm): fetch upstream with
// the client's headers, pass a non-200 answer on unchanged, read a bounded body, parse, and reply with the
// filtered value re-serialized. Any failure after the upstream answered becomes a 502: the upstream's bytes
// are never sent as they are.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ownName, type Policy } from '../policy.js';
import type { Sieve } from '../sieve.js';
import type { ApiVersion, Target } from '../docker/target.js';
import { dockerError } from '../docker/errors.js';
import { readBody, sendDockerError } from '../forward.js';
import { endToEndHeaders } from '../upstream.js';

/** These answers are small; one larger than this is not what we expect and is refused. */
export const MAX_JSON_BODY = 64 * 1024 * 1024;

/** The upstream answered 200 with a body that is not the shape we filter: nothing of it may go out. */
export class UnexpectedShape extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnexpectedShape';
  }
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function asObject(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw new UnexpectedShape(`${what} is not an object`);
  return value;
}

/** Labels as the policy reads them: an object of strings, or null/absent. */
export function labelsOf(value: unknown, what: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new UnexpectedShape(`${what} labels are not an object`);
  for (const key in value) {
    if (typeof value[key] !== 'string') throw new UnexpectedShape(`${what} label ${key} is not a string`);
  }
  return value as Record<string, string>;
}

export interface FilterSummary {
  kept: number;
  seen: number;
}

interface JsonTarget {
  readonly path: string;
  readonly query: string;
  readonly version: ApiVersion | undefined;
}

export type Fetched =
  | { readonly kind: 'json'; readonly headers: Record<string, string | string[]>; readonly value: unknown }
  /** A status the caller asked to handle itself; the body was discarded. */
  | { readonly kind: 'status'; readonly status: number }
  /** The reply is already sent (a pass-through or an error); nothing more to do. */
  | { readonly kind: 'replied' };

/**
 * GET the target upstream with the client's end-to-end headers. A 200 is read (bounded) and parsed; a status
 * in `intercept` is returned to the caller; any other answer is passed on unchanged.
 */
export async function fetchUpstreamJson(
  sieve: Sieve,
  target: JsonTarget,
  request: FastifyRequest,
  reply: FastifyReply,
  intercept: readonly number[] = [],
): Promise<Fetched> {
  const { upstream } = sieve;
  const abort = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  const headers = endToEndHeaders(request.headers);
  delete headers.host;
  // The body we forward is the client's GET body: none. Its framing headers must not travel without it.
  delete headers['content-length'];
  // We parse the answer, so it must come back unencoded.
  delete headers['accept-encoding'];
  let response;
  try {
    response = await upstream.request({
      method: 'GET',
      path: target.query === '' ? target.path : `${target.path}?${target.query}`,
      headers,
      signal: abort.signal,
    });
  } catch (error) {
    request.decision = 'upstream-error';
    sendDockerError(reply, upstream, dockerError(502, `docker-sieve: upstream unavailable: ${(error as Error).message}`, target.version));
    return { kind: 'replied' };
  }
  const responseHeaders = endToEndHeaders(response.headers);
  if (intercept.includes(response.statusCode)) {
    await response.body.dump().catch(() => undefined);
    return { kind: 'status', status: response.statusCode };
  }
  if (response.statusCode !== 200) {
    request.decision = 'passed';
    reply.code(response.statusCode).headers(responseHeaders).send(response.body);
    return { kind: 'replied' };
  }
  let value: unknown;
  try {
    const body = await readBody(response.body, MAX_JSON_BODY);
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    failClosed(sieve, target.version, reply, error as Error);
    return { kind: 'replied' };
  }
  return { kind: 'json', headers: responseHeaders, value };
}

/** Replies 200 with `value` as JSON, under the upstream's headers but never its length. */
export function sendJson(reply: FastifyReply, headers: Record<string, string | string[]>, value: unknown): void {
  const out = { ...headers };
  delete out['content-length'];
  delete out['content-encoding'];
  if (out['content-type'] === undefined) out['content-type'] = 'application/json';
  // A Buffer, so Fastify adds no charset to the daemon's content type.
  reply.code(200).headers(out).send(Buffer.from(`${JSON.stringify(value)}\n`));
}

/** Fail closed: a 502 in the daemon's error format, or a cut connection if a reply has already started. */
export function failClosed(sieve: Sieve, version: ApiVersion | undefined, reply: FastifyReply, error: Error): void {
  reply.request.decision = 'upstream-error';
  reply.request.log.warn({ err: error.message }, 'refusing an upstream answer that cannot be filtered');
  if (reply.sent || reply.raw.destroyed) return;
  if (reply.raw.headersSent) {
    reply.raw.destroy(error);
    return;
  }
  reply.removeHeader('content-length');
  sendDockerError(reply, sieve.upstream, dockerError(502, `docker-sieve: ${error.message}`, version));
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Keeps the visible entries of a list of container summaries (the `/containers/json` shape). */
function filterSummaries(policy: Policy, list: unknown, what: string, summary: FilterSummary): unknown[] {
  if (!Array.isArray(list)) throw new UnexpectedShape(`${what} is not a list`);
  return list.filter((entry: unknown) => {
    const container = asObject(entry, `an entry of ${what}`);
    summary.seen++;
    // Only the container's own name counts, never a link alias; without one, only labels can match.
    const name = ownName(container.Names as string[] | undefined) ?? '';
    const visible = policy.visibleContainer({ name, labels: labelsOf(container.Labels, 'a container') });
    if (visible) summary.kept++;
    return visible;
  });
}

/** The disk usage with hidden containers dropped; everything else as it was. Throws UnexpectedShape. */
export function filterSystemDf(policy: Policy, df: unknown, summary: FilterSummary = { kept: 0, seen: 0 }): JsonObject {
  const root = { ...asObject(df, 'the disk usage') };
  // Before 1.52 and at 1.52 without `verbose`: `Containers`. Both lists name the same containers, so the
  // summary counts one of them.
  const legacy: FilterSummary = { kept: 0, seen: 0 };
  const current: FilterSummary = { kept: 0, seen: 0 };
  if (root.Containers !== undefined && root.Containers !== null) {
    root.Containers = filterSummaries(policy, root.Containers, 'Containers', legacy);
  }
  if (root.ContainerUsage !== undefined && root.ContainerUsage !== null) {
    const usage = { ...asObject(root.ContainerUsage, 'ContainerUsage') };
    if (usage.Items !== undefined && usage.Items !== null) {
      usage.Items = filterSummaries(policy, usage.Items, 'ContainerUsage.Items', current);
    }
    root.ContainerUsage = usage;
  }
  const counted = legacy.seen >= current.seen ? legacy : current;
  summary.kept += counted.kept;
  summary.seen += counted.seen;
  return root;
}

export async function systemDfRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'system-df' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const fetched = await fetchUpstreamJson(sieve, target, request, reply);
  if (fetched.kind !== 'json') return;
  try {
    const summary: FilterSummary = { kept: 0, seen: 0 };
    const filtered = filterSystemDf(sieve.policy, fetched.value, summary);
    request.decision = 'filtered';
    request.listSummary = summary;
    sendJson(reply, fetched.headers, filtered);
  } catch (error) {
    failClosed(sieve, target.version, reply, error as Error);
  }
}
