// GET /libpod/containers/stats on answers recorded from Podman 4.3.1: the query plan (which names Podman reads),
// the record filter (byte for byte but for the cut entries), and the route against a scripted upstream.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { request } from 'undici';
import {
  containersStatsRoute,
  filterContainersStats,
  NO_SUCH_CONTAINER_STATS,
  planStatsQuery,
} from '../../src/filters/containers-stats.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { parseConfig, parseLabelRules, parseList } from '../../src/config.js';
import { compileProfile, envProfileRules, type Profile } from '../../src/policy/profile.js';
import { createUpstream } from '../../src/upstream/upstream.js';
import { createResolver, type Resolution, type Resolver } from '../../src/upstream/resolver.js';
import { classifyTarget, type Target } from '../../src/docker/target.js';
import type { Sieve } from '../../src/sieve.js';
import { startFakeUpstream, type FakeHandler, type FakeUpstream } from './fake-upstream.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url));
const statsTwo = fixture('libpod-containers-stats.json'); // web-a and db-hidden
const statsAll = fixture('libpod-containers-stats-all.json');
const statsStream = fixture('libpod-containers-stats-stream.ndjson'); // web-a, 2 records
const statsHeaders = JSON.parse(fixture('libpod-containers-stats.headers.json').toString('utf8')) as { headers: Array<[string, string]> };
const probes = JSON.parse(fixture('libpod-probes.json').toString('utf8')) as Array<{ note: string; status: number; bodyStart: string }>;

interface ListEntry {
  Id: string;
  Names: string[];
  Labels: Record<string, string> | null;
}
const list = JSON.parse(fixture('libpod-containers-list.json').toString('utf8')) as ListEntry[];
const idOf = (name: string) => list.find((c) => c.Names[0] === name)!.Id;

/** The containers of the recorded scene, as the resolver would find them: by name, full ID or ID prefix. */
function lookUp(ref: string): Resolution {
  const found = list.filter((c) => c.Names[0] === ref || c.Id.startsWith(ref));
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

function policy(names: string, labels = '') {
  return compilePolicy({ names: parseList(names), labels: parseLabelRules(labels) });
}

async function run(chunks: Buffer[], names: string, labels = '', resolver = sceneResolver()): Promise<string> {
  return text(Readable.from(chunks).pipe(filterContainersStats(policy(names, labels), resolver, { kept: 0, seen: 0 })));
}

const statsNames = (record: string) => ((JSON.parse(record).Stats ?? []) as Array<{ Name: string }>).map((s) => s.Name);

describe('planStatsQuery: the containers Podman reads from the query', () => {
  it.each([
    ['stream=false&containers=web-a&containers=db-hidden', ['web-a', 'db-hidden'], 'stream=false&containers=ID0&containers=ID1'],
    // Podman matches keys in any case (recorded: CONTAINERS= names db-hidden); all go out as `containers`.
    ['stream=false&CONTAINERS=db-hidden', ['db-hidden'], 'stream=false&containers=ID0'],
    ['Containers=a&containers=b', ['a', 'b'], 'containers=ID0&containers=ID1'],
    // strings.EqualFold: ſ (U+017F) folds to s.
    ['container%C5%BF=web-a', ['web-a'], 'containers=ID0'],
    ['c%6Fntainers=web-a&interval=2', ['web-a'], 'containers=ID0&interval=2'],
    // No comma splitting (recorded): one name with a comma in it.
    ['containers=web-a,db-hidden', ['web-a,db-hidden'], 'containers=ID0'],
    ['containers=web+a', ['web a'], 'containers=ID0'],
    // gorilla/schema drops empty values from a slice.
    ['containers=&stream=true', [], 'stream=true'],
    ['containers', [], ''],
    // What Go's ParseQuery ignores is not forwarded: a `;`, a bad escape.
    ['containers=db-hidden;x&stream=false', [], 'stream=false'],
    ['stream=false;containers=db-hidden', [], ''],
    ['containers=%zz&stream=false', [], 'stream=false'],
    ['%zz=1&stream=%', [], ''],
    // A gorilla path Podman ignores.
    ['containers.0=db-hidden', [], ''],
    ['stream=true&interval=2', [], 'stream=true&interval=2'],
    ['', [], ''],
    ['&&stream=false&', [], 'stream=false'],
  ])('%j names %j, forwards %j', (query, names, forwarded) => {
    const plan = planStatsQuery(query);
    expect(plan.names).toEqual(names);
    expect(plan.query(names.map((_n, i) => `ID${i}`))).toBe(forwarded);
  });

  it('decodes bytes that are not UTF-8 to a name no container has', () => {
    expect(planStatsQuery('containers=%FF').names).toEqual(['\ufffd']);
  });
});

describe('filterContainersStats on recorded records', () => {
  it('is what Podman answered: web-a and db-hidden; all seven running or not, infra included', () => {
    expect(statsNames(statsTwo.toString())).toEqual(['web-a', 'db-hidden']);
    expect(statsNames(statsAll.toString())).toEqual(['d7df075b0205-infra', 'db-hidden', 'job-stopped', 'pod-web', 'web-a', 'pod-db', 'net-c']);
    expect(statsStream.toString().split('\n').filter(Boolean)).toHaveLength(2);
  });

  it.each([
    ['web', '', ['pod-web', 'web-a']],
    ['', 'homepage.group=Media', ['job-stopped', 'pod-web', 'web-a', 'net-c']],
    ['', 'tier', ['db-hidden']],
    // An infra container is hidden unless the policy shows it.
    ['infra', '', ['d7df075b0205-infra']],
    ['pod', '', ['pod-web', 'pod-db']],
    ['nothing-matches', '', []],
  ])('names=%j labels=%j keeps %j of all', async (names, labels, expected) => {
    const output = await run([statsAll], names, labels);
    expect(statsNames(output)).toEqual(expected);
    expect(output.endsWith('\n')).toBe(true);
  });

  it('cuts hidden entries out of the bytes and leaves every other byte (SystemNano beyond 2^53 included)', async () => {
    const output = await run([statsTwo], 'web');
    const original = statsTwo.toString('utf8');
    const webEntry = original.slice(original.indexOf('{"AvgCPU"'), original.indexOf(',{"AvgCPU"'));
    expect(output).toBe(`{"Error":null,"Stats":[${webEntry}]}\n`);
    expect(output).toContain('"SystemNano":1796237255681433080');
    expect(output).not.toContain('db-hidden');
    expect(output).not.toContain(idOf('db-hidden'));
  });

  it('passes every record unchanged when every container is visible', async () => {
    const everyone = 'web,db,job,pod,net,infra';
    expect(await run([statsAll], everyone)).toBe(statsAll.toString());
    expect(await run([statsStream], everyone)).toBe(statsStream.toString());
  });

  it('keeps a stream of records, each on its own line, and counts entries', async () => {
    const summary = { kept: 0, seen: 0 };
    const input = Buffer.concat([statsStream, statsTwo, statsTwo]);
    const output = await text(Readable.from([input]).pipe(filterContainersStats(policy('db'), sceneResolver(), summary)));
    expect(output.split('\n').filter(Boolean).map(statsNames)).toEqual([[], [], ['db-hidden'], ['db-hidden']]);
    expect(summary).toEqual({ kept: 2, seen: 6 });
  });

  it('gives the same output for every split of the input into two chunks', async () => {
    const input = Buffer.concat([statsAll, statsStream]);
    const whole = await run([input], 'web');
    for (let at = 1; at < input.length; at += 5) {
      const output = await run([input.subarray(0, at), input.subarray(at)], 'web');
      if (output !== whole) throw new Error(`split at ${at} changed the output`);
    }
  });

  it("passes Podman's answer for a missing container, and an empty Stats, as they are", async () => {
    expect(await run([Buffer.from(NO_SUCH_CONTAINER_STATS)], 'web')).toBe(NO_SUCH_CONTAINER_STATS);
    expect(await run([Buffer.from('{"Error":null,"Stats":[]}\n')], 'web')).toBe('{"Error":null,"Stats":[]}\n');
  });

  it('asks the resolver by full ID, through libpod, and drops an entry it cannot judge', async () => {
    const asked: string[] = [];
    const dbId = idOf('db-hidden');
    const output = await run([statsTwo], 'web,db', '', sceneResolver(asked, (ref) => ref === dbId));
    expect(statsNames(output)).toEqual(['web-a']);
    expect(asked).toEqual([`libpod:${idOf('web-a')}`, `libpod:${dbId}`]);
  });

  it('drops an entry of a container that is gone', async () => {
    const gone = statsTwo.toString().replace(idOf('web-a'), 'f'.repeat(64));
    expect(statsNames(await run([Buffer.from(gone)], 'web,db'))).toEqual(['db-hidden']);
  });

  it('writes an Error that says more than {} as {}, and drops members it does not know', async () => {
    const record = `{"Error":{"Cause":"db-hidden is gone"},"Stats":null,"Extra":{"Name":"db-hidden"}}\n`;
    expect(await run([Buffer.from(record)], 'web')).toBe('{"Error":{},"Stats":null}\n');
    expect(await run([Buffer.from('{"Stats":null,"Error":null}\n')], 'web')).toBe('{"Stats":null,"Error":null}\n');
  });

  it.each([
    ['not JSON', '{"Error":null,"Stats":[\n'],
    ['an array', '[{"Error":null,"Stats":[]}]\n'],
    ['Stats as an object', `{"Error":null,"Stats":{"ContainerID":"${idOf('db-hidden')}"}}\n`],
    ['an entry without an ID', '{"Error":null,"Stats":[{"Name":"db-hidden"}]}\n'],
    ['an entry with a short ID', '{"Error":null,"Stats":[{"ContainerID":"1b69cbc15760","Name":"db-hidden"}]}\n'],
    ['an entry that is not an object', '{"Error":null,"Stats":["db-hidden"]}\n'],
    // JSON.parse reads the last `Stats`: the first must not go out unjudged.
    ['Stats twice', `{"Error":null,"Stats":[{"ContainerID":"${idOf('db-hidden')}","Name":"db-hidden"}],"Stats":[]}\n`],
    ['an escaped key', `{"Error":null,"St\\u0061ts":[{"ContainerID":"${idOf('db-hidden')}","Name":"db-hidden"}]}\n`],
  ])('errors on %s rather than pass it', async (_title, record) => {
    await expect(run([Buffer.from(record)], 'web')).rejects.toThrow();
  });

  it('does not send a record cut off by the end of the stream', async () => {
    expect(await run([statsTwo.subarray(0, statsTwo.length - 1)], 'web,db')).toBe('');
  });
});

describe('containersStatsRoute against a scripted Podman', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance | undefined;
  let resolver: Resolver | undefined;
  const noSuch = probes.find((p) => p.note === 'stats missing container')!;
  /** Refs whose inspect the scripted daemon fails. */
  let failing: Set<string>;

  /** A recorded answer: Podman's headers (no Content-Type), chunked. */
  const recorded =
    (body: Buffer | string): FakeHandler =>
    (_request, response) => {
      response.writeHead(200, Object.fromEntries(statsHeaders.headers.filter(([name]) => !/^(date|transfer-encoding)$/i.test(name))));
      response.end(body);
    };

  beforeEach(async () => {
    failing = new Set();
    upstream = await startFakeUpstream();
    // Podman's libpod inspect, for the resolver.
    upstream.on('GET', /^\/v4\.0\.0\/libpod\/containers\/[^/]+\/json$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('/')[4]!);
      if (failing.has(ref)) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      const found = lookUp(ref);
      if (found.kind === 'missing') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(fixture('libpod-container-inspect-missing.json'));
        return;
      }
      const { id, name, labels } = found.container;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Id: id, Name: name, Config: { Labels: labels, Env: ['SECRET=hunter2'] } }));
    });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    resolver?.close();
    await upstream.close();
  });

  /** The route alone, as routes.ts will call it, in an app of its own. */
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
      const target = classifyTarget(req.method, req.raw.url ?? '/') as Extract<Target, { kind: 'containers-stats' }>;
      expect(target.kind).toBe('containers-stats');
      await containersStatsRoute(sieve, target, req, reply);
      return reply;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }

  const statsRequests = () => upstream.requests.filter((r) => r.url.includes('/containers/stats'));

  it.each([
    ['a hidden container among visible ones', '?stream=false&containers=web-a&containers=db-hidden'],
    ['a hidden container, upper-case key', '?stream=false&CONTAINERS=db-hidden'],
    ['a missing container', '?stream=false&containers=nope'],
    ['a name with a comma (Podman does not split)', '?stream=false&containers=web-a,db-hidden'],
    ['a streamed request', '?stream=true&interval=1&containers=db-hidden'],
    ['an ID prefix of a hidden container', '?containers=1b69cbc15760'],
  ])("%s: Podman's missing-container answer, and the daemon is never asked for stats", async (_title, query) => {
    upstream.on('GET', '/v4.3.1/libpod/containers/stats', recorded(statsTwo));
    const base = await start('web');
    const response = await request(`${base}/v4.3.1/libpod/containers/stats${query}`);
    expect(response.statusCode).toBe(noSuch.status);
    const body = await response.body.text();
    expect(body).toBe(noSuch.bodyStart);
    expect(body).toBe(NO_SUCH_CONTAINER_STATS);
    expect(response.headers['content-type']).toBeUndefined();
    expect(response.headers['content-length']).toBeUndefined();
    expect(statsRequests()).toEqual([]);
  });

  it('forwards visible names as full IDs and filters what comes back', async () => {
    // The scripted daemon answers both containers whatever it is asked: the filter still cuts db-hidden.
    upstream.on('GET', '/v4.3.1/libpod/containers/stats', recorded(statsTwo));
    const base = await start('web');
    const response = await request(`${base}/v4.3.1/libpod/containers/stats?stream=false&Containers=web-a&containers=82a3666d`);
    expect(response.statusCode).toBe(200);
    const body = await response.body.text();
    expect(statsNames(body)).toEqual(['web-a']);
    expect(body).not.toContain('db-hidden');
    expect(response.headers['content-type']).toBeUndefined();
    expect(response.headers['libpod-api-version']).toBe('4.3.1');
    const webId = idOf('web-a');
    expect(statsRequests().map((r) => r.url)).toEqual([`/v4.3.1/libpod/containers/stats?stream=false&containers=${webId}&containers=${webId}`]);
  });

  it('with no container named, shows the visible ones of all (no infra)', async () => {
    upstream.on('GET', '/v4.3.1/libpod/containers/stats', recorded(statsAll));
    const base = await start('', 'homepage.group=Media');
    const response = await request(`${base}/v4.3.1/libpod/containers/stats?stream=false`);
    expect(statsNames(await response.body.text())).toEqual(['job-stopped', 'pod-web', 'web-a', 'net-c']);
    expect(statsRequests().map((r) => r.url)).toEqual(['/v4.3.1/libpod/containers/stats?stream=false']);
  });

  it('streams: headers at once, each record as it arrives, and closes the upstream when the client goes away', async () => {
    let write: ((line: string) => void) | undefined;
    let upstreamClosed: (() => void) | undefined;
    const closed = new Promise<void>((resolve) => {
      upstreamClosed = resolve;
    });
    upstream.on('GET', '/v4.3.1/libpod/containers/stats', (_r, res) => {
      res.writeHead(200, { 'api-version': '1.41', 'libpod-api-version': '4.3.1' });
      res.flushHeaders();
      write = (line) => res.write(line);
      res.on('close', () => upstreamClosed!());
    });
    const base = await start('web');
    const response = await request(`${base}/v4.3.1/libpod/containers/stats?containers=web-a&interval=1`, { headersTimeout: 2000 });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBeUndefined();
    const reader = response.body[Symbol.asyncIterator]();
    const [first, second] = statsStream.toString().split('\n');
    write!(`${first}\n`);
    expect(((await reader.next()).value as Buffer).toString()).toBe(`${first}\n`);
    write!(second!.slice(0, 50));
    write!(`${second!.slice(50)}\n`);
    expect(((await reader.next()).value as Buffer).toString()).toBe(`${second}\n`);
    response.body.destroy();
    await closed;
  });

  it('cuts the answer at a malformed record, after what was already sent', async () => {
    upstream.on('GET', '/v4.3.1/libpod/containers/stats', recorded(Buffer.concat([statsStream, Buffer.from('{"Error":null,"Stats":{"oops"\n')])));
    const base = await start('web');
    const response = await request(`${base}/v4.3.1/libpod/containers/stats?containers=web-a`);
    expect(response.statusCode).toBe(200);
    await expect(response.body.text()).rejects.toThrow();
  });

  it("passes the daemon's non-200 on unchanged", async () => {
    upstream.on('GET', '/v4.3.1/libpod/containers/stats', (_r, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"cause":"x","message":"stats unavailable","response":500}\n');
    });
    const base = await start('web');
    const response = await request(`${base}/v4.3.1/libpod/containers/stats?containers=web-a`);
    expect(response.statusCode).toBe(500);
    expect(await response.body.json()).toEqual({ cause: 'x', message: 'stats unavailable', response: 500 });
  });

  it('answers 502 when a named container cannot be looked up, and asks nothing else', async () => {
    failing.add('web-z');
    const base = await start('web');
    const response = await request(`${base}/v4.3.1/libpod/containers/stats?containers=web-z`);
    expect(response.statusCode).toBe(502);
    expect(((await response.body.json()) as { message: string }).message).toMatch(/^docker-sieve: /);
    expect(statsRequests()).toEqual([]);
  });
});
