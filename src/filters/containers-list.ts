// GET /containers/json: the upstream's array, streamed, with hidden containers dropped and kept elements
// emitted byte for byte. `limit` is applied here, after filtering, because the daemon applies it before we
// see the list.
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { JsonArraySplitter, MalformedJsonError } from '../stream/json-array.js';
import { ownName, type Policy } from '../policy.js';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { fetchForFilter, sendFiltered, sendUnchanged, withQuery } from '../forward.js';

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

export interface ListSummary {
  kept: number;
  seen: number;
}

interface ListEntry {
  Names?: string[];
  Labels?: Record<string, string> | null;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']\n');

/** A transform from the upstream's list bytes to the filtered list bytes. It errors rather than leak. */
export function filterContainerList(policy: Policy, limit: number | undefined, summary: ListSummary): Transform {
  let full = false;
  let transform: Transform;
  const splitter = new JsonArraySplitter((element) => {
    summary.seen++;
    if (full) return;
    const entry = JSON.parse(element.toString('utf8')) as ListEntry;
    if (entry === null || typeof entry !== 'object') throw new MalformedJsonError('a list element is not an object');
    const name = ownName(entry.Names);
    // A container without an own name can only be matched by its labels.
    if (!policy.visibleContainer({ name: name ?? '', labels: entry.Labels })) return;
    if (summary.kept > 0) transform.push(COMMA);
    transform.push(element);
    summary.kept++;
    if (limit !== undefined && summary.kept >= limit) full = true;
  });
  transform = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        splitter.write(chunk);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        splitter.end();
        this.push(CLOSE);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  // The opening bracket goes out at once, so a client sees the first byte before the last upstream byte.
  transform.push(OPEN);
  return transform;
}

/** The route: fetch the list upstream and stream it back filtered. Non-200 answers pass through unchanged. */
export async function containersListRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'containers-list' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const plan = planListQuery(target.query);
  const response = await fetchForFilter(sieve.upstream, request, reply, target.version, withQuery(target.path, plan.upstreamQuery));
  if (response === undefined) return;
  if (response.statusCode !== 200) {
    sendUnchanged(request, reply, response);
    return;
  }
  const summary: ListSummary = { kept: 0, seen: 0 };
  sendFiltered(request, reply, response, filterContainerList(sieve.policy, plan.limit, summary), summary);
}
