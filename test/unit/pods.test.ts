// Podman's pods on answers recorded from Podman 4.3.1 (fixtures/libpod-*): the pure parts (query reading, the
// verdict, the list, inspect and stats filters) as tables, then the routes as routes.ts wires them, through the
// app against a scripted Podman on loopback.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, parseLabelRules, parseList, type Env } from '../../src/config.js';
import { compilePolicy, type Policy } from '../../src/policy/policy.js';
import type { Resolution, Resolver } from '../../src/upstream/resolver.js';
import { backToRefs, noSuchPod } from '../../src/docker/errors.js';
import {
  filterPodInspect,
  filterPodsList,
  filterPodStats,
  filterPodsStatsStream,
  goQueryUnescape,
  libpodQueryTrue,
  noSuchPodStats,
  planLibpodQuery,
  planPodsStatsQuery,
  podInspectMembers,
  podNotWhole,
  podPath,
  podsListMemberIds,
  podStatsCids,
  PODS_STATS_CONFLICT,
  visibleContainerIds,
  visibleStatsCids,
} from '../../src/filters/libpod-pods-lookup.js';
import { UnexpectedShape } from '../../src/filters/json-answer.js';
import { podVerdict } from '../../src/upstream/pod-lookup.js';
import { startFakeUpstream, type FakeHandler, type FakeUpstream } from './fake-upstream.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');
const podsList = JSON.parse(fixture('libpod-pods-list.json')) as Array<Record<string, unknown>>;
const podInspect = JSON.parse(fixture('libpod-pod-inspect-media-pod.json')) as Record<string, unknown>;
const podStats = JSON.parse(fixture('libpod-pods-stats-media-pod.json')) as Array<Record<string, string>>;
const podTop = fixture('libpod-pod-top-media-pod.json');
const exists = JSON.parse(fixture('libpod-exists.headers.json')) as Array<{ path: string; status: number; body: string }>;

interface ListEntry {
  Id: string;
  Names: string[];
  Labels: Record<string, string> | null;
}
const containers = JSON.parse(fixture('libpod-containers-list.json')) as ListEntry[];
const idOf = (name: string): string => containers.find((c) => c.Names[0] === name)!.Id;
const INFRA = 'd7df075b0205-infra';
const POD_ID = podInspect.Id as string;

/** The recorded scene's containers as the resolver finds them: by name, full ID or unique ID prefix. */
function lookUp(ref: string): Resolution {
  const found = containers.filter((c) => c.Names[0] === ref || c.Id.startsWith(ref));
  if (found.length !== 1 || ref.length < 3) return { kind: 'missing' };
  const c = found[0]!;
  return { kind: 'found', container: { id: c.Id, name: c.Names[0]!, labels: c.Labels ?? {} } };
}

function sceneResolver(asked: string[] = [], fail: (ref: string) => boolean = () => false): Resolver {
  return {
    async resolveContainerRef(ref: string, api?: string) {
      asked.push(`${api}:${ref}`);
      if (fail(ref)) throw new Error('upstream down');
      return lookUp(ref);
    },
  } as unknown as Resolver;
}

const policy = (names: string, labels = ''): Policy => compilePolicy({ names: parseList(names), labels: parseLabelRules(labels) });
const namesOf = (members: unknown): string[] => (members as Array<{ Names?: string; Name?: string }>).map((m) => m.Names ?? m.Name!);

describe('planLibpodQuery: a slice as Podman 4.3.1 reads it (url.ParseQuery, gorilla/schema)', () => {
  it.each([
    ['', [], ''],
    ['namesOrIDs=media-pod', ['media-pod'], 'namesOrIDs=ID0'],
    // The podman CLI's own request (fixtures/libpod-client-requests.txt).
    ['all=false&namesOrIDs=media-pod', ['media-pod'], 'all=false&namesOrIDs=ID0'],
    // Recorded: `namesorids=` names the pod too.
    ['namesorids=media-pod', ['media-pod'], 'namesOrIDs=ID0'],
    ['NAMESORIDS=a&namesOrIDs=b', ['a', 'b'], 'namesOrIDs=ID0&namesOrIDs=ID1'],
    // strings.EqualFold: the long s (U+017F) is an s; a percent-encoded key is decoded first.
    ['namesOrID%C5%BF=a', ['a'], 'namesOrIDs=ID0'],
    ['n%61mesOrIDs=a&stream=true', ['a'], 'namesOrIDs=ID0&stream=true'],
    // No comma splitting; `+` is a space; empty values are dropped.
    ['namesOrIDs=a,b', ['a,b'], 'namesOrIDs=ID0'],
    ['namesOrIDs=a+b', ['a b'], 'namesOrIDs=ID0'],
    ['namesOrIDs=&namesOrIDs', [], ''],
    // Pairs Go ignores are not read and not forwarded.
    ['namesOrIDs=a;b&namesOrIDs=c', ['c'], 'namesOrIDs=ID0'],
    ['namesOrIDs=%zz&namesOrIDs=c', ['c'], 'namesOrIDs=ID0'],
    ['delay=%zz&namesOrIDs=c', ['c'], 'namesOrIDs=ID0'],
    ['namesOrIDs.0=a&namesOrIDs=c', ['c'], 'namesOrIDs=ID0'],
    // Other keys go on as sent.
    ['stream=true&delay=1&all=false', [], 'stream=true&delay=1&all=false'],
  ])('%j reads %j and forwards %j', (query, values, forwarded) => {
    const plan = planLibpodQuery(query, 'namesOrIDs');
    expect(plan.values).toEqual(values);
    expect(plan.query(values.map((_v, i) => `ID${i}`))).toBe(forwarded);
  });

  it.each([
    ['%41b', 'Ab'],
    ['a+b', 'a b'],
    ['%C5%BF', '\u017f'],
    ['%', undefined],
    ['%4', undefined],
    ['%GG', undefined],
  ])('goQueryUnescape(%j) is %j', (raw, decoded) => {
    expect(goQueryUnescape(raw)).toBe(decoded);
  });

  it.each([
    ['all=true', true],
    ['ALL=1', true],
    ['all=t&all=false', true],
    ['all=false', false],
    ['all=yes', false],
    ['all', false],
    ['all=True;x', false],
    ['tall=true', false],
  ])('libpodQueryTrue(%j, all) is %s', (query, expected) => {
    expect(libpodQueryTrue(query, 'all')).toBe(expected);
  });
});

describe('planPodsStatsQuery', () => {
  it.each([
    ['', [], false],
    ['all=true', [], false],
    ['all=false&namesOrIDs=media-pod', ['media-pod'], false],
    // Podman 4.3.1 answers 500 and then every pod's stats in the same body: never asked.
    ['all=true&namesOrIDs=media-pod', ['media-pod'], true],
    ['namesorids=media-pod&ALL=t', ['media-pod'], true],
    ['namesOrIDs=&all=true', [], false],
  ])('%j: names %j, conflict %s', (query, names, conflict) => {
    const plan = planPodsStatsQuery(query);
    expect(plan.names).toEqual(names);
    expect(plan.conflict).toBe(conflict);
  });

  it("answers a missing pod and the conflict in Podman's error format", () => {
    expect(JSON.parse(noSuchPodStats('nope').body)).toEqual({
      cause: 'no such pod',
      message: 'unable to get list of pods: no pod with name or ID nope found: no such pod',
      response: 404,
    });
    expect(noSuchPodStats('nope').status).toBe(404);
    expect(PODS_STATS_CONFLICT.status).toBe(500);
    expect(JSON.parse(PODS_STATS_CONFLICT.body).cause).toBe('--all, --latest and arguments cannot be used together');
  });
});

describe('podVerdict', () => {
  const [infra, web, db] = ['i', 'w', 'd'];
  it.each([
    ['every member visible', [infra, web, db], [web, db], { visible: true, whole: true }],
    ['the infra container does not count', [infra, web, db], [infra, web, db], { visible: true, whole: true }],
    ['one member hidden', [infra, web, db], [web], { visible: true, whole: false }],
    ['only the infra container visible', [infra, web, db], [infra], { visible: false, whole: false }],
    ['nothing visible', [infra, web, db], [], { visible: false, whole: false }],
    ['a pod of only its infra container', [infra], [infra], { visible: false, whole: false }],
    ['an empty pod', [], [], { visible: false, whole: false }],
  ])('%s', (_title, members, visible, verdict) => {
    expect(podVerdict(members, infra, new Set(visible))).toEqual(verdict);
  });
});

describe('the recorded scene, judged', () => {
  it.each([
    ['web', '', ['web-a', 'pod-web']],
    ['pod', '', ['pod-web', 'pod-db']],
    ['', 'homepage.group=Media', ['web-a', 'job-stopped', 'pod-web', 'net-c']],
    ['infra', '', [INFRA]],
    ['nothing-matches', '', []],
  ])('names %j labels %j: visible %j', async (names, labels, visible) => {
    const ids = await visibleContainerIds(sceneResolver(), policy(names, labels), containers.map((c) => c.Id));
    expect([...ids].sort()).toEqual(visible.map(idOf).sort());
  });

  it('drops what cannot be judged, and refs that are not full IDs', async () => {
    const asked: string[] = [];
    const ids = await visibleContainerIds(sceneResolver(asked, (ref) => ref === idOf('pod-web')), policy('pod'), [idOf('pod-web'), idOf('pod-db'), 'pod-db', idOf('pod-db')]);
    expect([...ids]).toEqual([idOf('pod-db')]);
    expect(asked).toEqual([`libpod:${idOf('pod-web')}`, `libpod:${idOf('pod-db')}`]);
  });
});

describe('filterPodsList on the recorded list', () => {
  it('reads every member', () => {
    expect(podsListMemberIds(podsList)).toEqual([INFRA, 'pod-web', 'pod-db'].map(idOf));
  });

  it.each([
    ['web', '', [['pod-web']], false],
    ['pod', '', [['pod-web', 'pod-db']], false],
    ['db', '', [['pod-db']], false],
    ['', 'homepage.group=Media', [['pod-web']], false],
    ['pod,infra', '', [[INFRA, 'pod-web', 'pod-db']], true],
    // A pod is not shown for its infra container alone.
    ['infra', '', [], false],
    ['job', '', [], false],
  ])('names %j labels %j: %j, infra ID shown %s', async (names, labels, expected, infraShown) => {
    const visible = await visibleContainerIds(sceneResolver(), policy(names, labels), podsListMemberIds(podsList));
    const summary = { kept: 0, seen: 0 };
    const out = filterPodsList(podsList, visible, summary);
    expect(out.map((pod) => namesOf(pod.Containers))).toEqual(expected);
    expect(summary).toEqual({ seen: 1, kept: expected.length });
    for (const pod of out) {
      expect(pod.InfraId).toBe(infraShown ? idOf(INFRA) : '');
      // Everything else as Podman wrote it.
      expect({ ...pod, Containers: undefined, InfraId: undefined }).toEqual({ ...podsList[0], Containers: undefined, InfraId: undefined });
    }
    const hidden = containers.filter((c) => !visible.has(c.Id));
    for (const c of hidden) expect(JSON.stringify(out)).not.toContain(c.Id);
  });

  it('judges each pod on its own', () => {
    const other = { ...podsList[0], Id: 'e'.repeat(64), Name: 'other', InfraId: '', Containers: [{ Id: idOf('db-hidden'), Names: 'db-hidden', Status: 'running' }] };
    const out = filterPodsList([podsList[0], other, { ...other, Id: 'f'.repeat(64), Containers: null }], new Set([idOf('pod-web')]));
    expect(out.map((pod) => pod.Name)).toEqual(['media-pod']);
  });

  it.each([
    ['not a list', {}],
    ['a pod not an object', [1]],
    ['Containers not a list', [{ Containers: {} }]],
    ['a member without Id', [{ Containers: [{ Names: 'x' }] }]],
    ['a member not an object', [{ Containers: ['x'] }]],
    ['InfraId not a string', [{ InfraId: 1, Containers: [] }]],
  ])('refuses %s', (_title, value) => {
    expect(() => podsListMemberIds(value)).toThrow(UnexpectedShape);
    expect(() => filterPodsList(value, new Set())).toThrow(UnexpectedShape);
  });
});

describe('filterPodInspect on the recorded inspect', () => {
  it('reads the members and the infra container', () => {
    expect(podInspectMembers(podInspect)).toEqual({ id: POD_ID, infraId: idOf(INFRA), memberIds: [INFRA, 'pod-web', 'pod-db'].map(idOf) });
  });

  it.each([
    [['pod-web'], false],
    [['pod-web', 'pod-db'], false],
    [[INFRA, 'pod-web'], true],
  ])('keeps %j', (visibleNames, scrub) => {
    const visible = new Set(visibleNames.map(idOf));
    const out = filterPodInspect(podInspect, visible, scrub);
    expect(namesOf(out.Containers)).toEqual(visibleNames);
    expect(out.NumContainers).toBe(visibleNames.length);
    expect(out.InfraContainerID).toBe(visible.has(idOf(INFRA)) ? idOf(INFRA) : '');
    expect(out.CreateCommand).toEqual(scrub ? [] : podInspect.CreateCommand);
    expect(out.Id).toBe(POD_ID);
    expect(out.InfraConfig).toEqual(podInspect.InfraConfig);
  });

  it("blanks CreateCommand with SCRUB_ENVS, and leaves the recorded value alone", () => {
    const before = JSON.stringify(podInspect);
    const out = filterPodInspect(podInspect, new Set([idOf('pod-web')]), true);
    expect(out.CreateCommand).toEqual([]);
    expect(JSON.stringify(out)).not.toContain('--infra-command');
    expect(JSON.stringify(podInspect)).toBe(before);
    expect(filterPodInspect({ ...podInspect, CreateCommand: null }, new Set(), true).CreateCommand).toBeNull();
  });

  it.each([
    ['not an object', []],
    ['no Id', { Containers: [] }],
    ['a short Id', { Id: 'd7df075b0205' }],
    ['Containers not a list', { Id: POD_ID, Containers: 'x' }],
    ['InfraContainerID not a string', { Id: POD_ID, InfraContainerID: {} }],
  ])('refuses %s', (_title, value) => {
    expect(() => podInspectMembers(value)).toThrow(UnexpectedShape);
  });
});

describe('pod stats on the recorded answer', () => {
  it('reads the CIDs', () => {
    expect(podStatsCids(podStats)).toEqual([INFRA, 'pod-web', 'pod-db'].map((name) => idOf(name).slice(0, 12)));
  });

  it.each([
    ['web', ['pod-web']],
    ['pod', ['pod-web', 'pod-db']],
    ['infra', [INFRA]],
    ['db-hidden', []],
  ])('names %j keep %j', async (names, kept) => {
    const visible = await visibleStatsCids(sceneResolver(), policy(names), podStatsCids(podStats));
    const summary = { kept: 0, seen: 0 };
    const out = filterPodStats(podStats, visible, summary) as Array<{ Name: string }>;
    expect(out.map((record) => record.Name)).toEqual(kept);
    expect(summary).toEqual({ seen: 3, kept: kept.length });
  });

  it('keeps a CID only if it names the visible container itself', async () => {
    // A resolver that answers a prefix with another container (a name equal to the prefix, say) does not count.
    const liar = { resolveContainerRef: async () => lookUp('pod-web') } as unknown as Resolver;
    expect([...(await visibleStatsCids(liar, policy('pod'), [idOf('pod-db').slice(0, 12), idOf('pod-web').slice(0, 12)]))]).toEqual([idOf('pod-web').slice(0, 12)]);
    const failing = sceneResolver([], () => true);
    expect((await visibleStatsCids(failing, policy('pod'), podStatsCids(podStats))).size).toBe(0);
    expect((await visibleStatsCids(sceneResolver(), policy('pod'), ['POD-WEB', 'abc', ''])).size).toBe(0);
  });

  it.each([
    ['not a list', { CID: 'x' }],
    ['a record not an object', ['x']],
    ['no CID', [{ Name: 'x' }]],
    ['a CID that is not an ID prefix', [{ CID: 'pod-web' }]],
    ['a short CID', [{ CID: '367bc7f4' }]],
  ])('refuses %s', (_title, value) => {
    expect(() => podStatsCids(value)).toThrow(UnexpectedShape);
  });

  const judgeWith = (names: string) => (cids: readonly string[]) => visibleStatsCids(sceneResolver(), policy(names), cids);
  const line = `${JSON.stringify(podStats)}\n`;

  it('filters a streamed answer line by line, whatever the chunking', async () => {
    const body = Buffer.from(line + line.replace('1.55%', '2.00%'));
    const expected = (await text(Readable.from([body]).pipe(filterPodsStatsStream(judgeWith('web'), { kept: 0, seen: 0 })))).split('\n');
    expect(expected).toHaveLength(3);
    expect(expected[2]).toBe('');
    expect(JSON.parse(expected[0]!)).toEqual([podStats[1]]);
    for (let cut = 1; cut < body.length; cut += 97) {
      const out = await text(Readable.from([body.subarray(0, cut), body.subarray(cut)]).pipe(filterPodsStatsStream(judgeWith('web'), { kept: 0, seen: 0 })));
      expect(out.split('\n')).toEqual(expected);
    }
  });

  it('sends nothing of a line cut off by the end, and errors on a line that is not stats', async () => {
    const cut = line.slice(0, -20);
    expect(await text(Readable.from([Buffer.from(line + cut)]).pipe(filterPodsStatsStream(judgeWith('pod'), { kept: 0, seen: 0 })))).toBe(
      `${JSON.stringify([podStats[1], podStats[2]])}\n`,
    );
    await expect(text(Readable.from([Buffer.from('{"CID":"x"}\n')]).pipe(filterPodsStatsStream(judgeWith('pod'), { kept: 0, seen: 0 })))).rejects.toThrow();
    await expect(text(Readable.from([Buffer.from('[{"CID":"x"}\n')]).pipe(filterPodsStatsStream(judgeWith('pod'), { kept: 0, seen: 0 })))).rejects.toThrow();
    // Nothing but the cut line: nothing at all.
    await expect(text(Readable.from([Buffer.from(cut)]).pipe(filterPodsStatsStream(judgeWith('pod'), { kept: 0, seen: 0 })))).resolves.toBe('');
  });
});

describe('small helpers', () => {
  it('podPath, backToRefs, podNotWhole', () => {
    expect(podPath({ base: '/v4.3.1/libpod' }, POD_ID, 'start')).toBe(`/v4.3.1/libpod/pods/${POD_ID}/start`);
    expect(podPath({ base: '/v4.3.1/libpod' }, POD_ID, '')).toBe(`/v4.3.1/libpod/pods/${POD_ID}`);
    expect(backToRefs(`no pod with name or ID ${POD_ID} found`, new Map([[POD_ID, 'media-pod']]))).toBe('no pod with name or ID media-pod found');
    expect(JSON.parse(podNotWhole('media-pod', undefined).body).message).toMatch(/media-pod holds containers this profile cannot see/);
    expect(podNotWhole('media-pod', undefined).status).toBe(403);
  });

  it("noSuchPod is Podman's recorded answer for a pod it does not have (exists, inspect, actions)", () => {
    const missing = exists.find((e) => e.path === '/v4.3.1/libpod/pods/nope/exists')!;
    expect(missing.status).toBe(404);
    expect(noSuchPod('nope').body).toBe(missing.body);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The routes, as routes.ts wires them (pods-list, pod, pods-stats), through the app.

describe('pod routes through the app, against a scripted Podman', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance | undefined;
  let listBody: string;
  let listStatus: number;
  /** Container refs the scripted Podman answers with another container (a container named like that). */
  let namedLike: Map<string, string>;

  const send =
    (status: number, body: string, type = 'application/json'): FakeHandler =>
    (_r, res) => {
      res.writeHead(status, { 'content-type': type, 'libpod-api-version': '4.3.1' });
      res.end(body);
    };

  /** Podman's pod inspect by name, full ID or ID prefix; 404 for anything else. */
  const podByRef = (ref: string): boolean => ref === 'media-pod' || (ref.length >= 3 && POD_ID.startsWith(ref));

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', /^\/v4\.0\.0\/libpod\/containers\/[^/]+\/json$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('?')[0]!.split('/')[4]!);
      const found = lookUp(namedLike.get(ref) ?? ref);
      if (found.kind === 'missing') return send(404, fixture('libpod-container-inspect-missing.json'))(r, res);
      const { id, name, labels } = found.container;
      return send(200, JSON.stringify({ Id: id, Name: name, Config: { Labels: labels, Env: ['SECRET=hunter2'] } }))(r, res);
    });
    upstream.on('GET', /^\/v[0-9.]+\/libpod\/pods\/[^/]+\/json$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('?')[0]!.split('/')[4]!);
      if (!podByRef(ref)) return send(404, noSuchPod(ref).body)(r, res);
      return send(200, fixture('libpod-pod-inspect-media-pod.json'))(r, res);
    });
    namedLike = new Map();
    listBody = fixture('libpod-pods-list.json');
    listStatus = 200;
    upstream.on('GET', '/v4.3.1/libpod/pods/json', (r, res) => send(listStatus, listBody)(r, res));
    upstream.on('GET', `/v4.3.1/libpod/pods/${POD_ID}/top`, send(200, podTop));
    upstream.on('GET', `/v4.3.1/libpod/pods/${POD_ID}/exists`, (_r, res) => {
      res.writeHead(204);
      res.end();
    });
    upstream.on('POST', `/v4.3.1/libpod/pods/${POD_ID}/start`, send(200, JSON.stringify({ Id: POD_ID, Errs: [] })));
    upstream.on('DELETE', `/v4.3.1/libpod/pods/${POD_ID}`, send(200, JSON.stringify({ Id: POD_ID, RemovedCtrs: {} })));
    upstream.on('GET', '/v4.3.1/libpod/pods/stats', (r, res) => {
      // As Podman 4.3.1's handler: names and all=true write the 500 and then every pod's stats.
      const plan = planPodsStatsQuery(r.url.split('?')[1] ?? '');
      if (plan.names.some((name) => !podByRef(name))) return send(404, noSuchPodStats(plan.names.find((n) => !podByRef(n))!).body)(r, res);
      const all = `${JSON.stringify(podStats)}\n`;
      if (plan.conflict) return send(500, PODS_STATS_CONFLICT.body + all)(r, res);
      // stream=true: an array per line, every `delay` seconds (here two, then the end).
      return send(200, libpodQueryTrue(r.url.split('?')[1] ?? '', 'stream') ? all + all.replace('1.74%', '2.00%') : all)(r, res);
    });
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await upstream.close();
  });

  async function start(env: Env = {}): Promise<void> {
    app = await buildApp({ config: parseConfig({ PROXY_URL: upstream.url, LOG_LEVEL: 'silent', ...env }), resolver: { watchEvents: false } });
  }
  const get = (url: string) => app!.inject({ method: 'GET', url });
  const toPods = () => upstream.requests.filter((r) => /\/v4\.3\.1\/libpod\/pods\//.test(r.url));
  const hiddenNames = (body: string, names: string[]) => {
    for (const name of names) expect(body).not.toContain(name);
  };

  it('GET /libpod/pods/json: the visible members only; a pod with none is dropped', async () => {
    await start({ CONTAINER_NAMES: 'pod-web' });
    const shown = await get('/v4.3.1/libpod/pods/json');
    expect(shown.statusCode).toBe(200);
    const pods = shown.json() as Array<{ Name: string; Containers: Array<{ Names: string }> }>;
    expect(pods.map((pod) => [pod.Name, pod.Containers.map((c) => c.Names)])).toEqual([['media-pod', ['pod-web']]]);
    // The infra container is not visible: not its name, and not its ID in InfraId either.
    hiddenNames(shown.body, ['pod-db', idOf('pod-db'), INFRA, idOf(INFRA)]);
    expect((pods[0] as unknown as { InfraId: string }).InfraId).toBe('');
    await app!.close();
    await start({ CONTAINER_NAMES: 'web-a' });
    const none = await get('/v4.3.1/libpod/pods/json');
    expect(none.statusCode).toBe(200);
    expect(none.json()).toEqual([]);
  });

  it.each([
    ['not a list', '{"Containers":[]}'],
    ['a member without Id', JSON.stringify([{ ...podsList[0], Containers: [{ Names: 'pod-db' }] }])],
    ['not JSON', `${fixture('libpod-pods-list.json').slice(0, 40)}`],
  ])('GET /libpod/pods/json: a body that is %s is a 502, never the bytes', async (_title, body) => {
    listBody = body;
    await start({ CONTAINER_NAMES: 'pod-web' });
    const response = await get('/v4.3.1/libpod/pods/json');
    expect(response.statusCode).toBe(502);
    hiddenNames(response.body, ['pod-db', 'media-pod']);
  });

  it('GET /libpod/pods/json: a non-200 answer passes unchanged', async () => {
    listStatus = 500;
    listBody = '{"cause":"x","message":"x","response":500}\n';
    await start({ CONTAINER_NAMES: 'pod-web' });
    const response = await get('/v4.3.1/libpod/pods/json');
    expect(response.statusCode).toBe(500);
    expect(response.body).toBe(listBody);
  });

  it.each([
    ['json', 'GET', '/v4.3.1/libpod/pods/media-pod/json'],
    ['exists', 'GET', '/v4.3.1/libpod/pods/media-pod/exists'],
    ['top', 'GET', '/v4.3.1/libpod/pods/media-pod/top'],
    ['start', 'POST', '/v4.3.1/libpod/pods/media-pod/start'],
    ['DELETE', 'DELETE', '/v4.3.1/libpod/pods/media-pod'],
  ])("a pod with no visible member (%s): Podman's answer for a missing pod, nothing forwarded", async (_action, method, url) => {
    await start({ CONTAINER_NAMES: 'web-a' });
    const response = await app!.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBe(404);
    expect(response.body).toBe(noSuchPod('media-pod').body);
    expect(toPods().filter((r) => !r.url.endsWith('/json') || r.url.includes(POD_ID))).toEqual([]);
  });

  it.each([
    ['top', 'GET', '/v4.3.1/libpod/pods/media-pod/top'],
    ['start', 'POST', '/v4.3.1/libpod/pods/media-pod/start'],
    ['DELETE', 'DELETE', '/v4.3.1/libpod/pods/media-pod'],
  ])('a pod holding a hidden member (%s): 403, nothing forwarded', async (_action, method, url) => {
    await start({ CONTAINER_NAMES: 'pod-web' });
    const response = await app!.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toMatch(/holds containers this profile cannot see/);
    expect(toPods().filter((r) => r.url.includes(POD_ID))).toEqual([]);
  });

  it.each([
    ['top', 'GET', '/v4.3.1/libpod/pods/media-pod/top', `/v4.3.1/libpod/pods/${POD_ID}/top`],
    ['start', 'POST', '/v4.3.1/libpod/pods/d7df075b0205/start', `/v4.3.1/libpod/pods/${POD_ID}/start`],
    ['DELETE', 'DELETE', '/v4.3.1/libpod/pods/media-pod?force=true', `/v4.3.1/libpod/pods/${POD_ID}?force=true`],
    ['exists', 'GET', '/v4.3.1/libpod/pods/media-pod/exists', `/v4.3.1/libpod/pods/${POD_ID}/exists`],
  ])('a pod whose every member is visible (%s): forwarded by its full ID', async (_action, method, url, forwarded) => {
    await start({ CONTAINER_NAMES: 'pod-' });
    const response = await app!.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBeLessThan(300);
    expect(toPods().filter((r) => r.url.includes(POD_ID)).map((r) => `${r.method} ${r.url}`)).toEqual([`${method} ${forwarded}`]);
  });

  it('GET /libpod/pods/{name}/json: forwarded by full ID, the visible members only, CreateCommand blank with SCRUB_ENVS', async () => {
    await start({ CONTAINER_NAMES: 'pod-web', SCRUB_ENVS: 'true' });
    const response = await get('/v4.3.1/libpod/pods/media-pod/json');
    expect(response.statusCode).toBe(200);
    const pod = response.json() as { Id: string; Containers: Array<{ Name: string }>; CreateCommand: unknown };
    expect(pod.Id).toBe(POD_ID);
    expect(pod.Containers.map((c) => c.Name)).toEqual(['pod-web']);
    expect(pod.CreateCommand).toEqual([]);
    expect((pod as unknown as { NumContainers: number }).NumContainers).toBe(1);
    hiddenNames(response.body, ['pod-db', idOf('pod-db'), INFRA, idOf(INFRA)]);
    expect(toPods().some((r) => r.url === `/v4.3.1/libpod/pods/${POD_ID}/json`)).toBe(true);
  });

  it('GET /libpod/pods/stats: a hidden or missing pod named is answered as missing, and no stats are asked for', async () => {
    await start({ CONTAINER_NAMES: 'web-a' });
    for (const query of ['namesOrIDs=media-pod', 'namesorids=media-pod', 'namesOrIDs=nope']) {
      const response = await get(`/v4.3.1/libpod/pods/stats?${query}`);
      expect(response.statusCode).toBe(404);
      hiddenNames(response.body, ['pod-web', 'pod-db', INFRA]);
    }
    expect(upstream.requests.filter((r) => r.url.includes('/pods/stats'))).toEqual([]);
  });

  it('GET /libpod/pods/stats: the records of visible containers only, for named pods and for all', async () => {
    await start({ CONTAINER_NAMES: 'pod-web' });
    for (const query of ['', '?all=true', '?all=false&namesOrIDs=media-pod', '?namesorids=d7df075b0205']) {
      const response = await get(`/v4.3.1/libpod/pods/stats${query}`);
      expect(response.statusCode).toBe(200);
      expect((JSON.parse(response.body) as Array<{ Name: string }>).map((r) => r.Name)).toEqual(['pod-web']);
    }
  });

  it('GET /libpod/pods/stats: a visible container named like a hidden one\'s CID does not let its record through', async () => {
    // Podman looks a ref up by full ID, then by name, then by ID prefix: a container named `367bc7f4abcd` is
    // what that ref finds, whatever container's ID begins with it.
    await start({ CONTAINER_NAMES: 'pod-web' });
    namedLike.set(idOf('pod-db').slice(0, 12), 'pod-web');
    for (const query of ['', '?stream=true']) {
      const response = await get(`/v4.3.1/libpod/pods/stats${query}`);
      expect(response.statusCode).toBe(200);
      for (const line of response.body.split('\n').filter((l) => l !== '')) {
        expect((JSON.parse(line) as Array<{ Name: string }>).map((r) => r.Name)).toEqual(['pod-web']);
      }
      hiddenNames(response.body, ['pod-db', idOf('pod-db').slice(0, 12)]);
    }
  });

  it('GET /libpod/pods/stats?stream=true: every line filtered as it comes', async () => {
    await start({ CONTAINER_NAMES: 'pod-web' });
    for (const query of ['stream=true&delay=1', 'STREAM=1&namesOrIDs=media-pod']) {
      const response = await get(`/v4.3.1/libpod/pods/stats?${query}`);
      expect(response.statusCode).toBe(200);
      const lines = response.body.split('\n').filter((line) => line !== '');
      // The scripted Podman sends two lines; the second has other numbers.
      expect(lines.length).toBe(2);
      expect(lines[1]).toContain('2.00%');
      for (const line of lines) expect((JSON.parse(line) as Array<{ Name: string }>).map((r) => r.Name)).toEqual(['pod-web']);
      hiddenNames(response.body, ['pod-db', INFRA, idOf('pod-db').slice(0, 12)]);
    }
  });

  it('GET /libpod/pods/stats: names with all=true never let the stats Podman 4.3.1 appends to its 500 out', async () => {
    await start({ CONTAINER_NAMES: 'pod-web' });
    const response = await get('/v4.3.1/libpod/pods/stats?all=true&namesOrIDs=media-pod');
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    hiddenNames(response.body, ['pod-db', INFRA, idOf('pod-db').slice(0, 12)]);
  });

  it('GET /libpod/pods/stats: a long-s key names the pod too (strings.EqualFold), and is judged', async () => {
    await start({ CONTAINER_NAMES: 'web-a' });
    const response = await get('/v4.3.1/libpod/pods/stats?namesOrID%C5%BF=media-pod');
    // Podman would report media-pod, a pod this profile cannot see: answered as missing.
    expect(response.statusCode).toBe(404);
  });
});
