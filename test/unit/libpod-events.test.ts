// GET /libpod/events on the events recorded from Podman 4.3.1: what each event is about, that a container is
// visible through the events exactly when it is in the list, network and pod events, and the route itself.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { request } from 'undici';
import { eventSubject, eventsRoute, filterEvents, lookupPodMembers, type PodMember } from '../../src/filters/events.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { parseConfig, parseLabelRules, parseList } from '../../src/config.js';
import { compileProfile, envProfileRules, type Profile } from '../../src/policy/profile.js';
import { createUpstream } from '../../src/upstream/upstream.js';
import { createResolver, type Resolution, type Resolver } from '../../src/upstream/resolver.js';
import { classifyTarget, type Target } from '../../src/docker/target.js';
import type { Sieve } from '../../src/sieve.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url));
const recorded = fixture('libpod-events.ndjson');
const lines = recorded.toString('utf8').split('\n').filter(Boolean);
interface PodmanEvent {
  Type: string;
  Action: string;
  id?: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}
const events = lines.map((line) => JSON.parse(line) as PodmanEvent);

interface ListEntry {
  Id: string;
  Names: string[];
  Labels: Record<string, string> | null;
}
const list = JSON.parse(fixture('libpod-containers-list.json').toString('utf8')) as ListEntry[];
const idOf = (name: string) => list.find((c) => c.Names[0] === name)!.Id;
const podInspect = JSON.parse(fixture('libpod-pod-inspect-media-pod.json').toString('utf8')) as {
  Id: string;
  Name: string;
  InfraContainerID: string;
  Containers: Array<{ Id: string; Name: string }>;
};
const POD_ID = podInspect.Id;

function lookUp(ref: string): Resolution {
  const found = list.filter((c) => c.Names[0] === ref || c.Id.startsWith(ref));
  if (found.length !== 1 || ref.length < 3) return { kind: 'missing' };
  const c = found[0]!;
  return { kind: 'found', container: { id: c.Id, name: c.Names[0]!, labels: c.Labels ?? {} } };
}

/** The recorded scene, as the resolver finds it. */
function sceneResolver(asked: string[] = []): Resolver {
  return {
    async resolveContainerRef(ref: string, api?: string) {
      asked.push(`${api}:${ref}`);
      return lookUp(ref);
    },
  } as unknown as Resolver;
}

/** Every container gone: only the events themselves can be judged from. */
const goneResolver = { resolveContainerRef: async () => ({ kind: 'missing' as const }) } as unknown as Resolver;

const podMembers = async (id: string): Promise<PodMember[] | undefined> =>
  id === POD_ID ? podInspect.Containers.map((c) => ({ id: c.Id, name: c.Name })) : undefined;

function policy(names: string, labels = '') {
  return compilePolicy({ names: parseList(names), labels: parseLabelRules(labels) });
}

async function run(
  chunks: Buffer[],
  names: string,
  labels = '',
  resolver = sceneResolver(),
  members: ((id: string) => Promise<PodMember[] | undefined>) | null = podMembers,
): Promise<string> {
  const filter = filterEvents(policy(names, labels), resolver, { kept: 0, seen: 0 }, { api: 'libpod', ...(members === null ? {} : { podMembers: members }) });
  return text(Readable.from(chunks).pipe(filter));
}

const summarize = (output: string) =>
  output
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const e = JSON.parse(line) as PodmanEvent;
      return `${e.Type} ${e.Action} ${e.Actor.Attributes.name}`;
    });

/** The containers a policy shows in the list: the libpod list filter's reading (one name, the labels). */
function visibleInList(names: string, labels: string): string[] {
  const p = policy(names, labels);
  return list.filter((c) => p.visibleContainer({ name: c.Names[0]!, labels: c.Labels })).map((c) => c.Names[0]!);
}

/** The containers whose container events come through. */
function visibleInEvents(output: string): string[] {
  const seen = new Set(
    output
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as PodmanEvent)
      .filter((e) => e.Type === 'container')
      .map((e) => e.Actor.Attributes.name!),
  );
  return list.map((c) => c.Names[0]!).filter((name) => seen.has(name));
}

describe('eventSubject for libpod', () => {
  it('reads a container event: name, pod, and labels without the four attributes Podman writes over them', () => {
    const create = events.find((e) => e.Type === 'container' && e.Actor.Attributes.name === 'pod-web')!;
    expect(eventSubject(create, 'libpod')).toEqual({
      kind: 'container',
      id: idOf('pod-web'),
      name: 'pod-web',
      labels: { 'homepage.group': 'Media' },
      pod: POD_ID,
    });
    const db = events.find((e) => e.Type === 'container' && e.Actor.Attributes.name === 'db-hidden')!;
    expect(eventSubject(db, 'libpod')).toEqual({ kind: 'container', id: idOf('db-hidden'), name: 'db-hidden', labels: { tier: 'db' } });
  });

  it('reads exec and exec_died as container events', () => {
    for (const action of ['exec', 'exec_died']) {
      const exec = events.find((e) => e.Action === action)!;
      expect(eventSubject(exec, 'libpod')).toMatchObject({ kind: 'container', id: idOf('web-a'), name: 'web-a' });
    }
  });

  it('reads a network event as about the container in Actor.ID', () => {
    const connect = events.find((e) => e.Type === 'network')!;
    expect(eventSubject(connect, 'libpod')).toEqual({ kind: 'container-ref', id: idOf('net-c') });
  });

  it('reads a pod event as about the pod', () => {
    const pod = events.find((e) => e.Type === 'pod')!;
    expect(eventSubject(pod, 'libpod')).toEqual({ kind: 'pod', id: POD_ID });
  });

  it.each(['volume', 'image', 'system'])('%s events are about no container', (type) => {
    for (const event of events.filter((e) => e.Type === type)) expect(eventSubject(event, 'libpod')).toEqual({ kind: 'none' });
  });

  it('cannot judge a network or pod event without an ID', () => {
    expect(eventSubject({ Type: 'network', Actor: { ID: '', Attributes: { name: 'x' } } }, 'libpod')).toEqual({ kind: 'unknown' });
    expect(eventSubject({ Type: 'pod', Actor: null }, 'libpod')).toEqual({ kind: 'unknown' });
  });

  it('the Docker reading is unchanged: podId and containerExitCode would be labels there', () => {
    const create = events.find((e) => e.Type === 'container' && e.Actor.Attributes.name === 'pod-db')!;
    expect(eventSubject(create)).toMatchObject({ labels: { containerExitCode: '0', podId: POD_ID } });
    expect(eventSubject(create, 'libpod')).toMatchObject({ labels: {} });
  });
});

describe('filterEvents (libpod) on recorded events', () => {
  it('is a real stream: every kind of event of the scene', () => {
    expect(new Set(events.map((e) => e.Type))).toEqual(new Set(['system', 'volume', 'container', 'image', 'pod', 'network']));
    expect(events).toHaveLength(40);
  });

  // Every policy: a container comes through the events exactly when the list shows it, whether the resolver
  // still knows it (its own labels) or it is gone (the attributes less name, image, podId, containerExitCode).
  it.each([
    ['web', ''],
    ['pod', ''],
    ['infra', ''],
    ['db', ''],
    ['a', ''],
    ['', 'homepage.group=Media'],
    ['', 'homepage'],
    ['', 'tier'],
    ['', 'tier=db'],
    // Substrings of the attributes Podman adds: never labels.
    ['', 'Id'],
    ['', 'podId'],
    ['', 'Code'],
    ['', 'containerExitCode=0'],
    ['', 'image'],
    ['', 'name'],
    ['', 'e'],
    ['job', 'tier'],
    ['nothing-matches', ''],
  ])('names=%j labels=%j: visible in the events exactly when in the list', async (names, labels) => {
    const expected = visibleInList(names, labels);
    expect(visibleInEvents(await run([recorded], names, labels))).toEqual(expected);
    expect(visibleInEvents(await run([recorded], names, labels, goneResolver))).toEqual(expected);
  });

  it('keeps the events of no container, visible containers, their network events, and their pod', async () => {
    expect(summarize(await run([recorded], 'pod-web'))).toEqual([
      'system refresh ',
      'volume create vol-a',
      'image tag local/busybox:1',
      'image pull local/busybox:1',
      'image pull local/busybox:1',
      'image pull local/busybox:1',
      'pod create media-pod',
      'image pull local/busybox:1',
      'image pull local/busybox:1',
      'container create pod-web',
      'container init pod-web',
      'container start pod-web',
      'image pull local/busybox:1',
      'image pull local/busybox:1',
    ]);
    const net = summarize(await run([recorded], 'net-c'));
    expect(net.filter((line) => !line.startsWith('image'))).toEqual([
      'system refresh ',
      'volume create vol-a',
      'container create net-c',
      'network connect net-c',
      'network disconnect net-c',
    ]);
  });

  it('emits kept events byte for byte', async () => {
    const output = await run([recorded], 'web');
    for (const line of output.split('\n').filter(Boolean)) expect(lines).toContain(line);
    expect(await run([recorded], 'web,db,job,pod,net,infra')).toBe(recorded.toString());
  });

  it('gives the same output for every split of the input into two chunks', async () => {
    const whole = await run([recorded], 'web', 'tier');
    for (let at = 1; at < recorded.length; at += 11) {
      const output = await run([recorded.subarray(0, at), recorded.subarray(at)], 'web', 'tier');
      if (output !== whole) throw new Error(`split at ${at} changed the output`);
    }
  });

  it('judges a network event about a container not seen on the stream through the libpod resolver', async () => {
    const network = lines.filter((line) => line.includes('"Type":"network"')).join('\n') + '\n';
    const asked: string[] = [];
    expect(summarize(await run([Buffer.from(network)], 'net', '', sceneResolver(asked)))).toEqual([
      'network connect net-c',
      'network disconnect net-c',
    ]);
    expect(asked[0]).toBe(`libpod:${idOf('net-c')}`);
    // Hidden, or cannot be judged: dropped.
    expect(await run([Buffer.from(network)], 'web')).toBe('');
    expect(await run([Buffer.from(network)], 'net', '', goneResolver)).toBe('');
    const failing = { resolveContainerRef: async () => Promise.reject(new Error('down')) } as unknown as Resolver;
    expect(await run([Buffer.from(network)], 'net', '', failing)).toBe('');
  });

  describe('pod events', () => {
    const podLine = lines.find((line) => line.includes('"Type":"pod"'))!;
    const pod = Buffer.from(`${podLine}\n`);

    it.each([
      ['pod-web', '', true],
      ['pod-db', '', true],
      // The infra container is a container of the pod.
      ['infra', '', true],
      ['', 'homepage.group=Media', true],
      ['web-a', '', false],
      ['', 'tier', false],
    ])('names=%j labels=%j: the pod is visible: %s', async (names, labels, visible) => {
      expect(await run([pod], names, labels)).toBe(visible ? `${podLine}\n` : '');
    });

    it('is dropped when it cannot be judged: the pod is gone, the lookup fails, or there is no lookup', async () => {
      expect(await run([pod], 'pod', '', sceneResolver(), async () => undefined)).toBe('');
      expect(await run([pod], 'pod', '', sceneResolver(), async () => Promise.reject(new Error('down')))).toBe('');
      expect(await run([pod], 'pod', '', sceneResolver(), null)).toBe('');
    });

    it('asks for a pod once per stream', async () => {
      let asked = 0;
      const counting = async (id: string) => {
        asked++;
        return podMembers(id);
      };
      expect(summarize(await run([pod, pod, pod], 'pod-web', '', sceneResolver(), counting))).toHaveLength(3);
      expect(asked).toBe(1);
    });

    it('is visible once a visible container of the pod was seen on the stream, without asking', async () => {
      const create = lines.find((line) => line.includes('"name":"pod-web"'))!;
      const never = async () => Promise.reject(new Error('must not be asked'));
      expect(summarize(await run([Buffer.from(`${create}\n${podLine}\n`)], 'pod-web', '', sceneResolver(), never))).toEqual([
        'container create pod-web',
        'pod create media-pod',
      ]);
    });
  });

  it("judges by the container's own labels while it exists, though an attribute overwrote one", async () => {
    // A label called `image` (or name, podId, containerExitCode) is overwritten in the event's attributes.
    const id = 'c'.repeat(64);
    const event = { Type: 'container', Action: 'start', Actor: { ID: id, Attributes: { image: 'busybox', name: 'other', podId: '' } } };
    const resolver = {
      resolveContainerRef: async () => ({ kind: 'found', container: { id, name: 'other', labels: { image: 'special' } } }),
    } as unknown as Resolver;
    const line = Buffer.from(`${JSON.stringify(event)}\n`);
    expect(await run([line], '', 'image=special', resolver)).toBe(line.toString());
    expect(await run([line], '', 'image=special', goneResolver)).toBe('');
  });

  it('asks for the labels of a container once per stream, and not when the name decides or no label rule is set', async () => {
    const asked: string[] = [];
    await run([recorded], 'web', '', sceneResolver(asked));
    // net-c's network events only: the name decides nothing there.
    expect(asked.every((ref) => ref === `libpod:${idOf('net-c')}`)).toBe(true);
    asked.length = 0;
    await run([recorded], 'web', 'tier', sceneResolver(asked));
    const refs = asked.map((ref) => ref.slice('libpod:'.length));
    expect(new Set(refs).size).toBe(refs.length);
    expect(refs).not.toContain(idOf('web-a'));
    expect(refs).toContain(idOf('db-hidden'));
  });

  it('errors on a malformed event rather than pass it', async () => {
    await expect(run([Buffer.from('{"Type":"container","Actor":{"Attributes":{"name":"db"\n')], 'web')).rejects.toThrow();
    await expect(run([Buffer.from('[{"Type":"container","Actor":{"ID":"x","Attributes":{"name":"db"}}}]\n')], 'web')).rejects.toThrow();
  });
});

describe('lookupPodMembers and eventsRoute against a scripted Podman', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance | undefined;
  let resolver: Resolver | undefined;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', /^\/v4\.0\.0\/libpod\/containers\/[^/]+\/json$/, (r, res) => {
      const found = lookUp(decodeURIComponent(r.url.split('/')[4]!));
      if (found.kind === 'missing') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(fixture('libpod-container-inspect-missing.json'));
        return;
      }
      const { id, name, labels } = found.container;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Id: id, Name: name, Config: { Labels: labels } }));
    });
    upstream.on('GET', /^\/v4\.0\.0\/libpod\/pods\/[^/]+\/json$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('/')[4]!);
      if (ref === 'broken') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"Containers":{}}');
        return;
      }
      if (ref !== POD_ID && ref !== 'media-pod') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(`{"cause":"no such pod","message":"no pod with name or ID ${ref} found: no such pod","response":404}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(fixture('libpod-pod-inspect-media-pod.json'));
    });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    resolver?.close();
    await upstream.close();
  });

  it('lookupPodMembers reads the containers of a pod but its infra container, undefined for a missing one, and throws on a bad answer', async () => {
    const up = createUpstream(parseConfig({ PROXY_URL: upstream.url }).upstream, {});
    try {
      expect(await lookupPodMembers(up, POD_ID, 2000)).toEqual(
        podInspect.Containers.filter((c) => c.Id !== podInspect.InfraContainerID).map((c) => ({ id: c.Id, name: c.Name })),
      );
      expect(await lookupPodMembers(up, 'nope', 2000)).toBeUndefined();
      await expect(lookupPodMembers(up, 'broken', 2000)).rejects.toThrow(/unexpected shape/);
      expect(upstream.requests.map((r) => r.url)).toContain(`/v4.0.0/libpod/pods/${POD_ID}/json`);
    } finally {
      await up.close();
    }
  });

  /** eventsRoute alone, as routes.ts calls it, in an app of its own. */
  async function start(names: string, labels = ''): Promise<string> {
    const config = parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: names, CONTAINER_LABELS: labels, LOG_LEVEL: 'silent' });
    const up = createUpstream(config.upstream, {});
    resolver = createResolver({ upstream: up, log: pino({ level: 'silent' }), watchEvents: false });
    const sieve = { config, upstream: up, resolver } as unknown as Sieve;
    const profile: Profile = compileProfile(envProfileRules(config));
    app = Fastify({ logger: false });
    app.decorateRequest('decision', '');
    app.decorateRequest('listSummary', null);
    app.decorateRequest('profile', null as unknown as Profile);
    app.addHook('onClose', async () => up.close());
    app.get('*', async (req, reply) => {
      req.profile = profile;
      const target = classifyTarget(req.method, req.raw.url ?? '/') as Extract<Target, { kind: 'events' }>;
      expect(target).toMatchObject({ kind: 'events', api: 'libpod' });
      await eventsRoute(sieve, target, req, reply);
      return reply;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }

  it('filters the recorded stream, asking Podman about the pod and the labels', async () => {
    upstream.on('GET', '/v4.3.1/libpod/events', (_r, res) => {
      res.writeHead(200, { 'api-version': '1.41', 'content-type': 'application/json', 'libpod-api-version': '4.3.1' });
      res.end(recorded);
    });
    const base = await start('', 'homepage.group=Media');
    const response = await request(`${base}/v4.3.1/libpod/events?stream=false`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    const output = await response.body.text();
    expect(visibleInEvents(output)).toEqual(visibleInList('', 'homepage.group=Media'));
    expect(summarize(output)).toContain('pod create media-pod');
    expect(output).not.toContain('db-hidden');
    expect(upstream.requests[0]!.url).toBe('/v4.3.1/libpod/events?stream=false');
    // The pod's create event comes before pod-web's: the pod was looked up, and its containers' labels.
    expect(upstream.requests.map((r) => r.url)).toContain(`/v4.0.0/libpod/pods/${POD_ID}/json`);
    expect(upstream.requests.map((r) => r.url)).toContain(`/v4.0.0/libpod/containers/${idOf('pod-web')}/json`);
  });

  it('asks Podman for a pod not judged yet', async () => {
    const podLine = lines.find((line) => line.includes('"Type":"pod"'))!;
    upstream.on('GET', '/v4.3.1/libpod/events', (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${podLine}\n`);
    });
    const base = await start('pod-db');
    const response = await request(`${base}/v4.3.1/libpod/events`);
    expect(await response.body.text()).toBe(`${podLine}\n`);
    expect(upstream.requests.map((r) => r.url)).toContain(`/v4.0.0/libpod/pods/${POD_ID}/json`);
  });
});
