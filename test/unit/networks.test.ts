// /networks/{id} and /networks on answers recorded from dockerd 20.10: the pure filter, then the routes through
// the app, with container inspects (names and labels) answered by a scripted upstream.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { ownName } from '../../src/policy/policy.js';
import { filterNetwork, networkRefs, networksListRefs } from '../../src/filters/networks.js';
import { UnexpectedShape } from '../../src/filters/json-answer.js';
import { DAEMON_HEADERS, json, startFakeUpstream, type FakeHandler, type FakeUpstream } from './fake-upstream.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url));
const NONE = fixture('network-inspect-none.v1.41.json');
const OVERLAY = fixture('network-inspect-overlay-verbose.v1.41.json');
const LIST_127 = fixture('networks-list.v1.27.json');
const LIST_141 = fixture('networks-list.v1.41.json');
const SERVICE_WEB = fixture('service-inspect-web-svc.v1.41.json');
const SERVICE_DB = fixture('service-inspect-db-svc.v1.41.json');

type Endpoint = { Name: string; EndpointID: string };
type Network = {
  Name: string;
  Containers?: Record<string, Endpoint> | null;
  Services?: Record<string, { Tasks: Array<{ Name: string }> }>;
};
const parse = <T = Network>(body: Buffer): T => JSON.parse(body.toString('utf8')) as T;

interface Container {
  Id: string;
  Name: string;
  Labels: Record<string, string>;
}
// The first scene (fixtures/README.md), from the recorded container list: names and labels.
const SCENE: Container[] = (parse<Array<{ Id: string; Names: string[]; Labels: Record<string, string> }>>(fixture('containers-list.v1.41.json'))).map(
  (c) => ({ Id: c.Id, Name: ownName(c.Names)!, Labels: c.Labels }),
);
const swarmLabels = (service: string) => ({ 'com.docker.swarm.service.name': service, 'com.docker.swarm.task': '' });
// The swarm scene (fixtures/README.md, "Swarm scene").
const SWARM_SCENE: Container[] = [
  { Id: 'cf87b86a313b6ebac55e4274ec9964bb6de5337bbf3ad563ef7dd442ac226093', Name: '/db-attached', Labels: { 'com.example.visible': 'false' } },
  { Id: 'f243bcc724b1bbd55bad125500fba46ea83e1bc36d46f711153295517b5fc8ee', Name: '/db-hidden', Labels: { 'com.example.visible': 'false' } },
  { Id: '4489c864c75e89662cb17ca14bc9813f2b94186fec1dec1b9dff2d66f43c1379', Name: '/web-a', Labels: { 'homepage.group': 'Media' } },
  { Id: 'aadc7b6cc521b2441b7fd457551645bcd8e78fb2fcac2ab68dbcce777bfe7fd6', Name: '/web-svc.1.4ozeurhu6n8b9rznnef3tn5pv', Labels: swarmLabels('web-svc') },
  { Id: 'fcfb9ef49b44f62dc9fed0cceb2024c27b4a2c1bf11ad23a90bd56ac867e2a3f', Name: '/db-svc.1.oqjvznzbbj28cws10zbflsy8j', Labels: swarmLabels('db-svc') },
];
// web-a and db-hidden are in both scenes, with other IDs: `id` looks in the first, `swarmId` in the second.
const id = (name: string) => [...SCENE, ...SWARM_SCENE].find((c) => c.Name === `/${name}`)!.Id;
const swarmId = (name: string) => SWARM_SCENE.find((c) => c.Name === `/${name}`)!.Id;

const names = (network: Network) => Object.values(network.Containers ?? {}).map((e) => e.Name).sort();

describe('pure filter on recorded networks', () => {
  it('networkRefs: the full container IDs and the service names, never lb-/sbox keys', () => {
    expect([...networkRefs(parse(NONE)).containers].sort()).toEqual(['db-hidden', 'r3-link', 'web-a', 'web-b'].map(id).sort());
    const overlay = networkRefs(parse(OVERLAY));
    expect([...overlay.containers].sort()).toEqual(['db-attached', 'db-svc.1.oqjvznzbbj28cws10zbflsy8j', 'web-svc.1.4ozeurhu6n8b9rznnef3tn5pv'].map(id).sort());
    expect([...overlay.services].sort()).toEqual(['db-svc', 'web-svc']);
    const list = networksListRefs(parse(LIST_127));
    expect([...list.containers].sort()).toEqual(SWARM_SCENE.map((c) => c.Id).sort());
    expect(list.services.size).toBe(0);
    expect(networksListRefs(parse(LIST_141)).containers.size).toBe(0);
  });

  it.each([
    [['web-a', 'web-b'], ['web-a', 'web-b']],
    [['db-hidden'], ['db-hidden']],
    [[], []],
  ])('filterNetwork keeps %j of the none network', (visible, expected) => {
    const summary = { kept: 0, seen: 0 };
    const original = parse(NONE);
    const filtered = filterNetwork(original, { containers: new Set(visible.map(id)), services: new Set() }, summary) as Network;
    expect(names(filtered)).toEqual(expected);
    expect(summary).toEqual({ kept: expected.length, seen: 4 });
    // Kept endpoints are whole, and every other field is as it was, in the same order.
    for (const name of expected) expect(filtered.Containers![id(name)]).toEqual(original.Containers![id(name)]);
    expect(Object.keys(filtered)).toEqual(Object.keys(original));
    expect({ ...filtered, Containers: null }).toEqual({ ...original, Containers: null });
  });

  it('filterNetwork on a verbose overlay: named services by decision, the "" entry by kept endpoints', () => {
    const web = id('web-svc.1.4ozeurhu6n8b9rznnef3tn5pv');
    const onlyWeb = filterNetwork(parse(OVERLAY), { containers: new Set([web]), services: new Set(['web-svc']) }) as Network;
    expect(Object.keys(onlyWeb.Containers!)).toEqual([web]);
    expect(Object.keys(onlyWeb.Services!)).toEqual(['web-svc']);
    expect(onlyWeb.Services!['web-svc']).toEqual(parse(OVERLAY).Services!['web-svc']);
    const withAttached = filterNetwork(parse(OVERLAY), { containers: new Set([web, id('db-attached')]), services: new Set() }) as Network;
    expect(Object.keys(withAttached.Services!)).toEqual(['']);
    expect(withAttached.Services!['']!.Tasks.map((t) => t.Name)).toEqual(['db-attached']);
  });

  it('leaves a list without Containers maps (API >= 1.28) as it was, and null maps null', () => {
    const list = parse<Network[]>(LIST_141);
    expect(list.map((n) => filterNetwork(n, { containers: new Set(), services: new Set() }))).toEqual(list);
    const old = parse<Network[]>(LIST_127).map((n) => filterNetwork(n, { containers: new Set(), services: new Set() }) as Network);
    expect(old.find((n) => n.Name === 'lk-ovl')!.Containers).toBeNull();
    expect(old.find((n) => n.Name === 'none')!.Containers).toEqual({});
  });

  it('keeps a `__proto__` key as data', () => {
    const network = JSON.parse('{"Containers":{"__proto__":{"Name":"x"}}}') as unknown;
    const filtered = filterNetwork(network, { containers: new Set(['__proto__']), services: new Set() });
    expect(JSON.stringify(filtered)).toBe('{"Containers":{"__proto__":{"Name":"x"}}}');
  });

  it.each([
    ['not an object', ['x']],
    ['Containers as a list', { Containers: [{ Name: 'db-hidden' }] }],
    ['Containers as a string', { Containers: 'db-hidden' }],
    ['an endpoint that is not an object', { Containers: { [id('db-hidden')]: 'db-hidden' } }],
    ['Services as a list', { Services: [] }],
    ['Tasks not a list', { Services: { '': { Tasks: { Name: 'db-hidden' } } } }],
    ['a task that is not an object', { Services: { '': { Tasks: ['db-hidden'] } } }],
  ])('networkRefs and filterNetwork throw on %s', (_title, network) => {
    expect(() => filterNetwork(network, { containers: new Set(), services: new Set() })).toThrow(UnexpectedShape);
    expect(() => networkRefs(network)).toThrow(UnexpectedShape);
  });

  it('networksListRefs throws on a list that is not a list', () => {
    expect(() => networksListRefs(parse(NONE))).toThrow(UnexpectedShape);
  });
});

describe('network routes through the app', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance | undefined;

  const raw =
    (status: number, body: string | Buffer): FakeHandler =>
    (_request, response) => {
      response.writeHead(status, { ...DAEMON_HEADERS, 'content-type': 'application/json' });
      response.end(body);
    };

  function inspects(containers: Container[]): void {
    for (const c of containers) {
      upstream.on('GET', `/containers/${c.Id}/json`, json(200, { Id: c.Id, Name: c.Name, Config: { Env: ['SECRET=hunter2'], Labels: c.Labels } }));
    }
  }

  async function start(env: Env = {}): Promise<FastifyInstance> {
    const config = parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent', ...env });
    app = await buildApp({ config, resolver: { watchEvents: false } });
    return app;
  }

  const lookups = () => upstream.requests.filter((r) => r.url.startsWith('/containers/')).length;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await upstream.close();
  });

  it.each([
    [{ CONTAINER_NAMES: 'web' }, ['web-a', 'web-b']],
    // Labels decide too: the network's map has names only, the resolver has the labels.
    [{ CONTAINER_NAMES: '', CONTAINER_LABELS: 'homepage.group=Media' }, ['web-a']],
    [{ CONTAINER_NAMES: '', CONTAINER_LABELS: 'com.example.visible=true' }, ['r3-link', 'web-a', 'web-b']],
    // `/r3-link/al` is a link alias of web-a; it makes nothing visible.
    [{ CONTAINER_NAMES: 'al' }, []],
  ])('GET /v1.41/networks/none with %j shows %j', async (env, expected) => {
    upstream.on('GET', '/v1.41/networks/none', raw(200, NONE));
    inspects(SCENE);
    const sieve = await start(env);
    const response = await sieve.inject({ method: 'GET', url: '/v1.41/networks/none' });
    expect(response.statusCode).toBe(200);
    expect(names(response.json())).toEqual(expected);
    expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
    expect(response.headers['api-version']).toBe('1.41');
    if (!expected.includes('db-hidden')) {
      expect(response.body).not.toContain('db-hidden');
      expect(response.body).not.toContain(id('db-hidden'));
    }
  });

  it('with neither list set, the answer is the upstream\'s bytes, and no container is looked up', async () => {
    upstream.on('GET', '/v1.41/networks/none', raw(200, NONE));
    inspects(SCENE);
    const sieve = await start({ CONTAINER_NAMES: '' });
    const response = await sieve.inject({ method: 'GET', url: '/v1.41/networks/none' });
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload.equals(Buffer.from(NONE))).toBe(true);
    expect(names(response.json())).toEqual(['db-hidden', 'r3-link', 'web-a', 'web-b']);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/v1.41/networks/none']);
  });

  it('resolves each container once, concurrently, and from the cache on the next request', async () => {
    upstream.on('GET', '/networks/none', raw(200, NONE));
    inspects(SCENE);
    const sieve = await start();
    await sieve.inject({ method: 'GET', url: '/networks/none' });
    expect(lookups()).toBe(4);
    const again = await sieve.inject({ method: 'GET', url: '/networks/none' });
    expect(names(again.json())).toEqual(['web-a', 'web-b']);
    expect(lookups()).toBe(4);
  });

  it.each([
    ['is missing', json(404, { message: 'No such container' })],
    ['lookup fails', json(500, { message: 'boom' })],
    ['lookup is refused by the socket proxy', json(403, { message: 'forbidden' })],
    ['lookup answers garbage', raw(200, '{"Id":')],
    ['lookup answers another container', json(200, { Id: 'f'.repeat(64), Name: '/web-z', Config: { Labels: {} } })],
  ])('drops a container whose %s, and keeps the rest', async (_title, handler) => {
    upstream.on('GET', '/networks/none', raw(200, NONE));
    upstream.on('GET', `/containers/${id('web-b')}/json`, handler);
    inspects(SCENE);
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url: '/networks/none' });
    expect(response.statusCode).toBe(200);
    expect(names(response.json())).toEqual(['web-a']);
  });

  it('GET /v1.27/networks: filters every Containers map, and no hidden ID is anywhere in the body', async () => {
    upstream.on('GET', '/v1.27/networks', raw(200, LIST_127));
    inspects(SWARM_SCENE);
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url: '/v1.27/networks?filters=%7B%7D' });
    expect(response.statusCode).toBe(200);
    expect(upstream.requests[0]!.url).toBe('/v1.27/networks?filters=%7B%7D');
    const list = response.json() as Network[];
    const byName = Object.fromEntries(list.map((n) => [n.Name, n]));
    expect(list.map((n) => n.Name)).toEqual(parse<Network[]>(LIST_127).map((n) => n.Name));
    expect(names(byName.none!)).toEqual(['web-a']);
    // On docker_gwbridge endpoints are named `gateway_…`: the key is what is judged.
    expect(Object.keys(byName.docker_gwbridge!.Containers!)).toEqual([id('web-svc.1.4ozeurhu6n8b9rznnef3tn5pv')]);
    expect(byName.host!.Containers).toEqual({});
    expect(byName['lk-ovl']!.Containers).toBeNull();
    for (const hidden of ['db-hidden', 'db-attached', 'db-svc.1.oqjvznzbbj28cws10zbflsy8j']) {
      expect(response.body).not.toContain(swarmId(hidden));
      expect(response.body).not.toContain(hidden);
    }
    expect(response.body).not.toContain('ingress-sbox');
    const visible = [swarmId('web-a'), swarmId('web-svc.1.4ozeurhu6n8b9rznnef3tn5pv')];
    expect(response.json()).toEqual(
      parse<Network[]>(LIST_127).map((n) =>
        n.Containers == null
          ? n
          : { ...n, Containers: Object.fromEntries(Object.entries(n.Containers).filter(([key]) => visible.includes(key))) },
      ),
    );
  });

  it('GET /v1.41/networks: entries without Containers maps come back as they were, with no lookup', async () => {
    upstream.on('GET', '/v1.41/networks', raw(200, LIST_141));
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url: '/v1.41/networks' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(parse(LIST_141));
    expect(lookups()).toBe(0);
  });

  it('GET /networks/lk-ovl?verbose=true: hidden services, tasks and plain containers are dropped', async () => {
    upstream.on('GET', '/v1.41/networks/lk-ovl', raw(200, OVERLAY));
    upstream.on('GET', '/services/web-svc', raw(200, SERVICE_WEB));
    upstream.on('GET', '/services/db-svc', raw(200, SERVICE_DB));
    inspects(SWARM_SCENE);
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url: '/v1.41/networks/lk-ovl?verbose=true' });
    expect(response.statusCode).toBe(200);
    expect(upstream.requests[0]!.url).toBe('/v1.41/networks/lk-ovl?verbose=true');
    const network = response.json() as Network;
    expect(names(network)).toEqual(['web-svc.1.4ozeurhu6n8b9rznnef3tn5pv']);
    expect(Object.keys(network.Services!)).toEqual(['web-svc']);
    for (const hidden of ['db-attached', 'db-svc', 'lb-lk-ovl']) expect(response.body).not.toContain(hidden);
  });

  it('a service the upstream will not show is dropped from Services', async () => {
    upstream.on('GET', '/networks/lk-ovl', raw(200, OVERLAY));
    upstream.on('GET', '/services/web-svc', json(403, { message: 'forbidden' }));
    upstream.on('GET', '/services/db-svc', raw(200, SERVICE_DB));
    inspects(SWARM_SCENE);
    const sieve = await start({ CONTAINER_NAMES: 'web,db-attached' });
    const response = await sieve.inject({ method: 'GET', url: '/networks/lk-ovl?verbose=1' });
    expect(response.statusCode).toBe(200);
    expect(Object.keys((response.json() as Network).Services!)).toEqual(['']);
  });

  it('passes a non-200 answer through unchanged', async () => {
    upstream.on('GET', '/networks/nope', json(404, { message: 'network nope not found' }));
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url: '/networks/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'network nope not found' });
  });

  it.each([
    ['/networks/none', 'truncated', NONE.subarray(0, NONE.indexOf('db-hidden') + 30)],
    ['/networks/none', 'not JSON', Buffer.from(`${NONE.toString('utf8')}}`)],
    ['/networks/none', 'Containers as a list', Buffer.from(JSON.stringify({ Containers: [{ Name: 'db-hidden', Id: id('db-hidden') }] }))],
    ['/networks/none', 'a list', Buffer.from(`[${NONE.toString('utf8')}]`)],
    ['/v1.27/networks', 'truncated list', LIST_127.subarray(0, LIST_127.indexOf('db-hidden') + 30)],
    ['/v1.27/networks', 'an object instead of a list', NONE],
    ['/v1.27/networks', 'a list with an endpoint that is a string', Buffer.from(JSON.stringify([{ Containers: { [id('db-hidden')]: 'db-hidden' } }]))],
  ])('%s: answers 502 for a %s upstream body, never its bytes', async (url, _title, body) => {
    upstream.on('GET', url, raw(200, body));
    inspects([...SCENE, ...SWARM_SCENE]);
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url });
    expect(response.statusCode).toBe(502);
    expect(response.json().message).toMatch(/^docker-sieve: /);
    expect(response.body).not.toContain('db-hidden');
  });
});
