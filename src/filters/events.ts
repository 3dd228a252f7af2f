// GET /events: a live stream, one JSON object per line. Events about hidden containers are dropped; the rest
// go out as soon as they arrive, as the exact bytes the daemon sent.
//
// Container events are judged from `Actor.Attributes`, which holds the container's name and every label: after
// `destroy` there is nothing left to inspect. Network and volume events name a container in
// `Attributes.container`; that one is judged from the container events seen earlier on this stream, or else
// through the resolver. Anything that cannot be judged is dropped.
//
// GET /libpod/events (Podman's native API) goes through the same filter with `api: 'libpod'`, because its
// events differ in three ways:
// - a container event's `Actor.Attributes` are the container's labels with `name`, `image`, `podId` and
//   `containerExitCode` written over them (a label of one of those names is lost). So the name decides first;
//   then, with label rules, the container's own labels, asked once per container and stream (a label never
//   changes), and only for a container that is gone the attributes less those four keys. A container is thus
//   visible in the events exactly when it is in the list.
// - a network connect or disconnect event names the container in `Actor.ID` (and its name in `name`), the
//   network nowhere: judged like Docker's `Attributes.container`.
// - a pod event names the pod in `Actor.ID`: it is visible when the pod has a visible container, asked
//   upstream once per pod and stream; a visible container event with the pod's `podId` makes it visible too.
// Anything else (volume, image, system, ...) names no container and passes.
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Policy } from '../policy/policy.js';
import type { Resolver } from '../upstream/resolver.js';
import { lookupPod } from '../upstream/pod-lookup.js';
import type { Sieve } from '../sieve.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Api, Target } from '../docker/target.js';
import { LineSplitter } from '../stream/lines.js';
import { fetchForFilter, sendFiltered, sendUnchanged, withQuery, type FilterSummary } from '../upstream/forward.js';

/** Attributes the daemon adds to a container event besides the labels. */
const DAEMON_ATTRIBUTES = new Set(['image', 'name', 'exitCode', 'signal', 'execID', 'oldName', 'execDuration']);
/** What Podman writes over a container's labels in its events' attributes (libpod/events ConvertToEntitiesEvent). */
const LIBPOD_ATTRIBUTES = new Set(['image', 'name', 'podId', 'containerExitCode']);
const RECORD_SEPARATOR = 0x1e; // Accept: application/json-seq
const MAX_REMEMBERED = 10_000;

interface DockerEvent {
  Type?: unknown;
  id?: unknown;
  Actor?: { ID?: unknown; Attributes?: Record<string, unknown> | null } | null;
}

export type EventSubject =
  | {
      readonly kind: 'container';
      readonly id: string;
      readonly name: string;
      readonly labels: Record<string, string>;
      /** libpod only: the pod the container is in, when it is in one. */
      readonly pod?: string;
    }
  | { readonly kind: 'container-ref'; readonly id: string }
  /** libpod only: a pod event, by the pod's ID. */
  | { readonly kind: 'pod'; readonly id: string }
  /** libpod only: about a container or pod, but naming none: it cannot be judged, so it is dropped. */
  | { readonly kind: 'unknown' }
  | { readonly kind: 'none' };

/** What an event is about, as far as visibility goes. Pure. */
export function eventSubject(event: DockerEvent, api: Api = 'docker'): EventSubject {
  if (api === 'libpod') return libpodEventSubject(event);
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
  // Docker has no pods; Podman's Docker-compatible stream sends their events all the same.
  if (event.Type === 'pod') return typeof event.Actor?.ID === 'string' && event.Actor.ID !== '' ? { kind: 'pod', id: event.Actor.ID } : { kind: 'unknown' };
  return { kind: 'none' };
}

function libpodEventSubject(event: DockerEvent): EventSubject {
  const attributes = event.Actor?.Attributes ?? {};
  const actor = typeof event.Actor?.ID === 'string' ? event.Actor.ID : '';
  if (event.Type === 'container') {
    const labels: Record<string, string> = {};
    for (const key in attributes) {
      if (!LIBPOD_ATTRIBUTES.has(key) && typeof attributes[key] === 'string') labels[key] = attributes[key] as string;
    }
    const id = actor !== '' ? actor : typeof event.id === 'string' ? event.id : '';
    const name = typeof attributes.name === 'string' ? attributes.name : '';
    const pod = typeof attributes.podId === 'string' && attributes.podId !== '' ? attributes.podId : undefined;
    return pod === undefined ? { kind: 'container', id, name, labels } : { kind: 'container', id, name, labels, pod };
  }
  // Podman's network events are connect and disconnect, by the container.
  if (event.Type === 'network') return actor === '' ? { kind: 'unknown' } : { kind: 'container-ref', id: actor };
  if (event.Type === 'pod') return actor === '' ? { kind: 'unknown' } : { kind: 'pod', id: actor };
  return { kind: 'none' };
}

export type EventsSummary = FilterSummary;

/** A container of a pod, as Podman's pod inspect lists it. */
export interface PodMember {
  readonly id: string;
  readonly name: string;
}

export interface EventsOptions {
  /** Whose events these are: dockerd's (and Podman's compatible API), or Podman's native `/libpod/events`. */
  readonly api?: Api;
  /**
   * libpod: the containers of a pod (infra included), or undefined when there is no such pod. Throws when it
   * cannot tell; the pod's event is then dropped. Without it, every pod event is dropped.
   */
  readonly podMembers?: (podId: string) => Promise<readonly PodMember[] | undefined>;
}

export function filterEvents(policy: Policy, resolver: Resolver, summary: EventsSummary, options: EventsOptions = {}): Transform {
  const api = options.api ?? 'docker';
  // Visibility of containers seen on this stream, so a later network event about one needs no lookup.
  const seenContainers = new Map<string, boolean>();
  // libpod: whether a container's own labels make it visible (they never change), and pods' visibility.
  const labelVerdicts = new Map<string, boolean>();
  const podVerdicts = new Map<string, boolean>();

  function remember(id: string, visible: boolean, memory = seenContainers): void {
    memory.delete(id);
    memory.set(id, visible);
    if (memory.size > MAX_REMEMBERED) memory.delete(memory.keys().next().value!);
  }

  async function visibleRef(id: string): Promise<boolean> {
    const known = seenContainers.get(id);
    if (known !== undefined) return known;
    try {
      const resolution = await resolver.resolveContainerRef(id, api);
      return resolution.kind === 'found' && policy.visibleContainer(resolution.container);
    } catch {
      return false; // cannot judge: drop
    }
  }

  /**
   * libpod: do the container's labels make it visible? Its own labels, as the list has them, while it exists;
   * once it is gone, the event's attributes are all there is.
   */
  async function visibleByOwnLabels(id: string, fromAttributes: Record<string, string> | undefined): Promise<boolean> {
    const known = labelVerdicts.get(id);
    if (known !== undefined) return known;
    let verdict: boolean;
    try {
      const resolution = id === '' ? { kind: 'missing' as const } : await resolver.resolveContainerRef(id, 'libpod');
      if (resolution.kind === 'found') verdict = policy.visibleByLabels(resolution.container.labels);
      else if (fromAttributes === undefined) return false;
      else verdict = policy.visibleByLabels(fromAttributes);
    } catch {
      // Cannot ask now: the attributes decide this event, and the next one asks again.
      return fromAttributes !== undefined && policy.visibleByLabels(fromAttributes);
    }
    if (id !== '') remember(id, verdict, labelVerdicts);
    return verdict;
  }

  async function visibleLibpodContainer(id: string, name: string, labels: Record<string, string>): Promise<boolean> {
    if (policy.visibleByName(name)) return true;
    return policy.hasLabelRules && visibleByOwnLabels(id, labels);
  }

  async function visiblePod(id: string): Promise<boolean> {
    const known = podVerdicts.get(id);
    if (known !== undefined) return known;
    if (options.podMembers === undefined) return false;
    let members: readonly PodMember[] | undefined;
    try {
      members = await options.podMembers(id);
    } catch {
      return false; // cannot judge: drop, and ask again next time
    }
    let visible = false;
    if (members !== undefined) {
      // Names first: they need no lookup.
      visible = members.some((member) => seenContainers.get(member.id) === true || policy.visibleByName(member.name));
      if (!visible && policy.hasLabelRules) {
        for (const member of members) {
          if (await visibleByOwnLabels(member.id, undefined)) {
            visible = true;
            break;
          }
        }
      }
    }
    remember(id, visible, podVerdicts);
    return visible;
  }

  async function judgeLibpod(event: DockerEvent): Promise<boolean> {
    // A list would be about no container to eventSubject, whatever it holds.
    if (Array.isArray(event)) throw new Error('an event is not an object');
    const subject = eventSubject(event, 'libpod');
    switch (subject.kind) {
      case 'none':
        return true;
      case 'unknown':
        return false;
      case 'container-ref':
        return visibleRef(subject.id);
      case 'pod':
        return visiblePod(subject.id);
      case 'container': {
        const visible = await visibleLibpodContainer(subject.id, subject.name, subject.labels);
        if (subject.id !== '') remember(subject.id, visible);
        // A pod with a visible container is visible (a hidden one changes nothing: another may be visible).
        if (visible && subject.pod !== undefined) remember(subject.pod, true, podVerdicts);
        return visible;
      }
    }
  }

  async function judge(line: Buffer): Promise<boolean> {
    let text = line.toString('utf8');
    if (line[0] === RECORD_SEPARATOR) text = text.slice(1);
    if (text.trim() === '') return true;
    const event = JSON.parse(text) as DockerEvent; // a malformed record errors the stream: fail closed
    if (event === null || typeof event !== 'object') throw new Error('an event is not an object');
    if (api === 'libpod') return judgeLibpod(event);
    const subject = eventSubject(event);
    if (subject.kind === 'none') return true;
    if (subject.kind === 'container-ref') return visibleRef(subject.id);
    if (subject.kind !== 'container') return false; // pods are Podman's: not on a Docker stream
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
  const podMembers = (id: string) => lookupPodMembers(upstream, id, sieve.config.timeouts.lookupMs);
  const options: EventsOptions = { api: target.api, podMembers };
  sendFiltered(request, reply, response, filterEvents(policy, resolver, summary, options), summary);
}

/**
 * The members of a pod but its infra container (a pod is visible by those, as in upstream/pod-lookup.ts); undefined when
 * there is no such pod. Throws LookupError.
 */
export async function lookupPodMembers(upstream: Upstream, id: string, timeoutMs: number): Promise<PodMember[] | undefined> {
  const pod = await lookupPod(upstream, id, timeoutMs);
  return pod?.members.filter((member) => member.id !== pod.infraId);
}
