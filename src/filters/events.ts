// GET /events: a live stream, one JSON object per line. Events about hidden containers are dropped; the rest
// go out as soon as they arrive, as the exact bytes the daemon sent.
//
// Container events are judged from `Actor.Attributes`, which holds the container's name and every label: after
// `destroy` there is nothing left to inspect. Network and volume events name a container in
// `Attributes.container`; that one is judged from the container events seen earlier on this stream, or else
// through the resolver. Anything that cannot be judged is dropped.
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Policy } from '../policy.js';
import type { Resolver } from '../resolver.js';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { LineSplitter } from '../stream/lines.js';
import { fetchForFilter, sendFiltered, sendUnchanged, withQuery, type FilterSummary } from '../forward.js';

/** Attributes the daemon adds to a container event besides the labels. */
const DAEMON_ATTRIBUTES = new Set(['image', 'name', 'exitCode', 'signal', 'execID', 'oldName', 'execDuration']);
const RECORD_SEPARATOR = 0x1e; // Accept: application/json-seq
const MAX_REMEMBERED = 10_000;

interface DockerEvent {
  Type?: unknown;
  id?: unknown;
  Actor?: { ID?: unknown; Attributes?: Record<string, unknown> | null } | null;
}

export type EventSubject =
  | { readonly kind: 'container'; readonly id: string; readonly name: string; readonly labels: Record<string, string> }
  | { readonly kind: 'container-ref'; readonly id: string }
  | { readonly kind: 'none' };

/** What an event is about, as far as visibility goes. Pure. */
export function eventSubject(event: DockerEvent): EventSubject {
  const attributes = event.Actor?.Attributes ?? {};
  if (event.Type === 'container') {
    const labels: Record<string, string> = {};
    for (const key in attributes) {
      if (!DAEMON_ATTRIBUTES.has(key) && typeof attributes[key] === 'string') labels[key] = attributes[key] as string;
    }
    const id = typeof event.Actor?.ID === 'string' ? event.Actor.ID : typeof event.id === 'string' ? event.id : '';
    const name = typeof attributes.name === 'string' ? attributes.name : '';
    return { kind: 'container', id, name, labels };
  }
  if (typeof attributes.container === 'string') return { kind: 'container-ref', id: attributes.container };
  return { kind: 'none' };
}

export type EventsSummary = FilterSummary;

export function filterEvents(policy: Policy, resolver: Resolver, summary: EventsSummary): Transform {
  // Visibility of containers seen on this stream, so a later network event about one needs no lookup.
  const seenContainers = new Map<string, boolean>();

  function remember(id: string, visible: boolean): void {
    seenContainers.delete(id);
    seenContainers.set(id, visible);
    if (seenContainers.size > MAX_REMEMBERED) seenContainers.delete(seenContainers.keys().next().value!);
  }

  async function visibleRef(id: string): Promise<boolean> {
    const known = seenContainers.get(id);
    if (known !== undefined) return known;
    try {
      const resolution = await resolver.resolveContainerRef(id);
      return resolution.kind === 'found' && policy.visibleContainer(resolution.container);
    } catch {
      return false; // cannot judge: drop
    }
  }

  async function judge(line: Buffer): Promise<boolean> {
    let text = line.toString('utf8');
    if (line[0] === RECORD_SEPARATOR) text = text.slice(1);
    if (text.trim() === '') return true;
    const event = JSON.parse(text) as DockerEvent; // a malformed record errors the stream: fail closed
    if (event === null || typeof event !== 'object') throw new Error('an event is not an object');
    const subject = eventSubject(event);
    if (subject.kind === 'none') return true;
    if (subject.kind === 'container-ref') return visibleRef(subject.id);
    const visible = policy.visibleContainer({ name: subject.name, labels: subject.labels });
    if (subject.id !== '') remember(subject.id, visible);
    return visible;
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
          summary.seen++;
          if (await judge(line)) {
            summary.kept++;
            this.push(line);
          }
        }
      })().then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      // A record cut off by the end of the stream cannot be judged, so it is not sent.
      callback();
    },
  });
}

export async function eventsRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'events' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const { upstream, resolver } = sieve;
  const policy = request.profile.policy;
  const response = await fetchForFilter(upstream, request, reply, target.version, withQuery(target.path, target.query));
  if (response === undefined) return;
  if (response.statusCode !== 200 || !policy.filtering) {
    sendUnchanged(request, reply, response);
    return;
  }
  const summary: EventsSummary = { kept: 0, seen: 0 };
  sendFiltered(request, reply, response, filterEvents(policy, resolver, summary), summary);
}
