// The pieces every buffered JSON filter shares (system df, networks, swarm): fetch upstream with the client's
// headers, pass a non-200 answer on unchanged, read a bounded body, parse, check shapes, and reply with the
// filtered value re-serialised. Any failure after the upstream answered becomes a 502: the upstream's bytes
// are never sent as they are.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { ApiVersion } from '../docker/target.js';
import { failClosed, fetchForFilter, readBody, sendUnchanged, withQuery, type FilterSummary } from '../upstream/forward.js';
import { endToEndHeaders } from '../upstream/upstream.js';

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
  const response = await fetchForFilter(sieve.upstream, request, reply, target.version, withQuery(target.path, target.query));
  if (response === undefined) return { kind: 'replied' };
  if (intercept.includes(response.statusCode)) {
    await response.body.dump().catch(() => undefined);
    return { kind: 'status', status: response.statusCode };
  }
  if (response.statusCode !== 200) {
    sendUnchanged(request, reply, response);
    return { kind: 'replied' };
  }
  let value: unknown;
  try {
    const body = await readBody(response.body, MAX_JSON_BODY);
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    failClosed(reply, sieve.upstream, target.version, error as Error);
    return { kind: 'replied' };
  }
  return { kind: 'json', headers: endToEndHeaders(response.headers), value };
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

/**
 * The whole route for a buffered JSON filter: fetch, then reply with `filter(value)`; anything that goes wrong
 * after the upstream answered fails closed.
 */
export async function sendFilteredJson(
  sieve: Sieve,
  target: JsonTarget,
  request: FastifyRequest,
  reply: FastifyReply,
  filter: (value: unknown, summary: FilterSummary) => unknown,
): Promise<void> {
  const fetched = await fetchUpstreamJson(sieve, target, request, reply);
  if (fetched.kind !== 'json') return;
  try {
    const summary: FilterSummary = { kept: 0, seen: 0 };
    const filtered = await filter(fetched.value, summary);
    request.decision = 'filtered';
    request.listSummary = summary;
    sendJson(reply, fetched.headers, filtered);
  } catch (error) {
    failClosed(reply, sieve.upstream, target.version, error as Error);
  }
}
