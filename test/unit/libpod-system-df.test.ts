// GET /libpod/system/df on the answer recorded from Podman 4.3.1: the filter (by name, then labels looked up by
// ID), and systemDfRoute for a libpod target against a scripted upstream.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { request } from 'undici';
import { filterLibpodSystemDf, filterSystemDf, systemDfRoute } from '../../src/filters/system-df.js';
import { UnexpectedShape } from '../../src/filters/json-answer.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { parseConfig, parseLabelRules, parseList } from '../../src/config.js';
import { compileProfile, envProfileRules, type Profile } from '../../src/policy/profile.js';
import { createUpstream } from '../../src/upstream/upstream.js';
import { createResolver, type Resolution, type Resolver } from '../../src/upstream/resolver.js';
import { classifyTarget, type Target } from '../../src/docker/target.js';
import type { Sieve } from '../../src/sieve.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url));
const recorded = fixture('libpod-system-df.json');
type Df = { Containers: Array<{ ContainerID: string; Names: string }>; [key: string]: unknown };
const parse = (): Df => JSON.parse(recorded.toString('utf8')) as Df;
const names = (df: { Containers?: unknown }) => (df.Containers as Df['Containers']).map((c) => c.Names);

interface ListEntry {
  Id: string;
  Names: string[];
  Labels: Record<string, string> | null;
}
const list = JSON.parse(fixture('libpod-containers-list.json').toString('utf8')) as ListEntry[];
const idOf = (name: string) => list.find((c) => c.Names[0] === name)!.Id;

function lookUp(ref: string): Resolution {
  const c = list.find((entry) => entry.Id === ref || entry.Names[0] === ref);
  return c === undefined ? { kind: 'missing' } : { kind: 'found', container: { id: c.Id, name: c.Names[0]!, labels: c.Labels ?? {} } };
}

function sceneResolver(asked: string[] = []): Resolver {
  return {
    async resolveContainerRef(ref: string, api?: string) {
      asked.push(`${api}:${ref}`);
      return lookUp(ref);
    },
  } as unknown as Resolver;
}

function policy(namesList: string, labels = '') {
  return compilePolicy({ names: parseList(namesList), labels: parseLabelRules(labels) });
}

describe('filterLibpodSystemDf on a recorded answer', () => {
  it('is a real answer: every container of the scene, Names a string, no labels', () => {
    const df = parse();
    expect(names(df)).toEqual(['d7df075b0205-infra', 'db-hidden', 'job-stopped', 'pod-web', 'web-a', 'pod-db', 'net-c']);
    expect(Object.keys(df)).toEqual(['Images', 'Containers', 'Volumes']);
    expect(df.Containers.every((c) => !('Labels' in c))).toBe(true);
  });

  it.each([
    ['web', '', ['pod-web', 'web-a']],
    ['', 'homepage.group=Media', ['job-stopped', 'pod-web', 'web-a', 'net-c']],
    ['', 'tier', ['db-hidden']],
    ['infra', '', ['d7df075b0205-infra']],
    ['db', 'homepage.group', ['db-hidden', 'job-stopped', 'pod-web', 'web-a', 'pod-db', 'net-c']],
    ['nothing-matches', '', []],
    ['', '', ['d7df075b0205-infra', 'db-hidden', 'job-stopped', 'pod-web', 'web-a', 'pod-db', 'net-c']],
  ])('names=%j labels=%j keeps %j, as the list would show', async (namesList, labels, expected) => {
    const summary = { kept: 0, seen: 0 };
    const filtered = await filterLibpodSystemDf(policy(namesList, labels), sceneResolver(), parse(), summary);
    expect(names(filtered)).toEqual(expected);
    expect(summary).toEqual({ kept: expected.length, seen: 7 });
    // The same containers the list shows.
    const p = policy(namesList, labels);
    const inList = list.filter((c) => p.visibleContainer({ name: c.Names[0]!, labels: c.Labels })).map((c) => c.Names[0]);
    expect([...expected].sort()).toEqual([...inList].sort());
  });

  it('leaves images, volumes and counts as Podman computed them, in the same key order', async () => {
    const original = parse();
    const filtered = await filterLibpodSystemDf(policy('web'), sceneResolver(), parse());
    expect(Object.keys(filtered)).toEqual(Object.keys(original));
    expect(filtered.Images).toEqual(original.Images);
    expect((filtered.Images as Array<{ Containers: number }>)[0]!.Containers).toBe(7);
    expect(filtered.Volumes).toEqual(original.Volumes);
    expect(filtered.Containers).toEqual(original.Containers.filter((c) => ['web-a', 'pod-web'].includes(c.Names)));
  });

  it('looks up labels by full ID through libpod, only for containers the name does not decide', async () => {
    const asked: string[] = [];
    await filterLibpodSystemDf(policy('web'), sceneResolver(asked), parse());
    expect(asked).toEqual([]);
    await filterLibpodSystemDf(policy('web', 'tier'), sceneResolver(asked), parse());
    expect([...asked].sort()).toEqual(
      ['d7df075b0205-infra', 'db-hidden', 'job-stopped', 'pod-db', 'net-c'].map((n) => `libpod:${idOf(n)}`).sort(),
    );
  });

  it('hides a container gone since, and fails when one cannot be looked up', async () => {
    const gone = { resolveContainerRef: async () => ({ kind: 'missing' }) } as unknown as Resolver;
    expect(names(await filterLibpodSystemDf(policy('web', 'tier'), gone, parse()))).toEqual(['pod-web', 'web-a']);
    const failing = { resolveContainerRef: async () => Promise.reject(new Error('down')) } as unknown as Resolver;
    await expect(filterLibpodSystemDf(policy('web', 'tier'), failing, parse())).rejects.toThrow('down');
  });

  it('passes an answer without containers', async () => {
    expect(await filterLibpodSystemDf(policy('web'), sceneResolver(), { Images: [], Containers: null, Volumes: [] })).toEqual({
      Images: [],
      Containers: null,
      Volumes: [],
    });
  });

  it.each([
    ['an array', [parse()]],
    ['Containers as a map', { Containers: { a: { Names: 'db-hidden' } } }],
    ['an entry that is not an object', { Containers: ['db-hidden'] }],
    ['an entry without ContainerID', { Containers: [{ Names: 'db-hidden' }] }],
    ['Names as a list', { Containers: [{ ContainerID: idOf('db-hidden'), Names: ['db-hidden'] }] }],
  ])('throws UnexpectedShape for %s', async (_title, body) => {
    await expect(filterLibpodSystemDf(policy('web'), sceneResolver(), body)).rejects.toBeInstanceOf(UnexpectedShape);
  });

  it("the Docker reading would hide them all: Podman's Names is a string, not Docker's list", () => {
    expect(names(filterSystemDf(policy('web'), parse()))).toEqual([]);
  });
});

describe('systemDfRoute for /libpod/system/df against a scripted Podman', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance | undefined;
  let resolver: Resolver | undefined;
  let dfBody: Buffer | string;
  /** A container whose inspect the scripted daemon fails. */
  let failing: string | undefined;

  beforeEach(async () => {
    dfBody = recorded;
    failing = undefined;
    upstream = await startFakeUpstream();
    upstream.on('GET', /^\/v4\.0\.0\/libpod\/containers\/[^/]+\/json$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('/')[4]!);
      if (ref === failing) {
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
      res.end(JSON.stringify({ Id: id, Name: name, Config: { Labels: labels } }));
    });
    upstream.on('GET', '/v4.3.1/libpod/system/df', (_r, res) => {
      res.writeHead(200, { 'api-version': '1.41', 'content-type': 'application/json', 'libpod-api-version': '4.3.1' });
      res.end(dfBody);
    });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    resolver?.close();
    await upstream.close();
  });

  /** systemDfRoute alone, as routes.ts calls it, in an app of its own. */
  async function start(namesList: string, labels = ''): Promise<string> {
    const config = parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: namesList, CONTAINER_LABELS: labels, LOG_LEVEL: 'silent' });
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
      const target = classifyTarget(req.method, req.raw.url ?? '/') as Extract<Target, { kind: 'system-df' }>;
      expect(target).toMatchObject({ kind: 'system-df', api: 'libpod' });
      await systemDfRoute(sieve, target, req, reply);
      return reply;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }

  it('drops hidden containers, judged by name and by labels looked up', async () => {
    const base = await start('pod-web', 'tier');
    const response = await request(`${base}/v4.3.1/libpod/system/df`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['libpod-api-version']).toBe('4.3.1');
    const body = await response.body.text();
    expect(names(JSON.parse(body) as Df)).toEqual(['db-hidden', 'pod-web']);
    expect(body.endsWith('}\n')).toBe(true);
    expect(upstream.requests[0]!.url).toBe('/v4.3.1/libpod/system/df');
  });

  it('answers 502 when a container cannot be looked up', async () => {
    failing = idOf('pod-db');
    const base = await start('web', 'tier');
    const response = await request(`${base}/v4.3.1/libpod/system/df`);
    expect(response.statusCode).toBe(502);
    const body = await response.body.text();
    expect((JSON.parse(body) as { message: string }).message).toMatch(/^docker-sieve: /);
    expect(body).not.toContain('db-hidden');
  });

  it.each([
    ['not JSON', '{"Containers":[{"Names":"db-hidden"}'],
    ['Containers as a map', JSON.stringify({ Containers: { x: { Names: 'db-hidden' } } })],
    ['an entry without an ID', JSON.stringify({ Containers: [{ Names: 'db-hidden' }] })],
  ])('answers 502 for %s, never its bytes', async (_title, body) => {
    dfBody = body;
    const base = await start('web');
    const response = await request(`${base}/v4.3.1/libpod/system/df`);
    expect(response.statusCode).toBe(502);
    expect(await response.body.text()).not.toContain('db-hidden');
  });
});
