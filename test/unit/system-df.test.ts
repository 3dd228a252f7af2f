// GET /system/df on the answer recorded from dockerd 20.10: the pure filter, then the route through the app
// against a scripted upstream.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, parseLabelRules, parseList, type Env } from '../../src/config.js';
import { compilePolicy, ownName } from '../../src/policy/policy.js';
import { filterSystemDf } from '../../src/filters/system-df.js';
import { UnexpectedShape } from '../../src/filters/json-answer.js';
import { DAEMON_HEADERS, startFakeUpstream, type FakeHandler, type FakeUpstream } from './fake-upstream.js';

const recorded = readFileSync(new URL('../../fixtures/system-df.v1.41.json', import.meta.url));
type Df = { Containers: Array<{ Id: string; Names: string[] }>; [key: string]: unknown };
const parse = (): Df => JSON.parse(recorded.toString('utf8')) as Df;
const DB_HIDDEN_ID = 'b7d5ca46d5aa5e1cdfb0bcfa28f0769083564e167538234ad5edbeaab72ac9c1';

function policy(names: string, labels = '') {
  return compilePolicy({ names: parseList(names), labels: parseLabelRules(labels) });
}

const own = (list: Array<{ Names: string[] }>) => list.map((c) => ownName(c.Names));

describe('filterSystemDf on a recorded answer', () => {
  it('is a real answer with every container of the scene, a link alias among them', () => {
    const df = parse();
    expect(own(df.Containers)).toEqual(['/r3-link', '/job-exited', '/db-hidden', '/web-b', '/web-a']);
    expect(Object.keys(df)).toEqual(['LayersSize', 'Images', 'Containers', 'Volumes', 'BuildCache', 'BuilderSize']);
  });

  it.each([
    ['web', '', ['/web-b', '/web-a']],
    ['', 'homepage.group=Media', ['/web-a']],
    ['', 'com.example.visible=true', ['/r3-link', '/job-exited', '/web-b', '/web-a']],
    // web-a's Names hold `/r3-link/al`: a link alias never makes a container visible.
    ['r3', '', ['/r3-link']],
    ['al', '', []],
    ['nothing-matches', '', []],
    ['', '', ['/r3-link', '/job-exited', '/db-hidden', '/web-b', '/web-a']],
  ])('names=%j labels=%j keeps %j', (names, labels, expected) => {
    const summary = { kept: 0, seen: 0 };
    const filtered = filterSystemDf(policy(names, labels), parse(), summary);
    expect(own(filtered.Containers as Df['Containers'])).toEqual(expected);
    expect(summary).toEqual({ kept: expected.length, seen: 5 });
  });

  it('leaves everything but the container list as the daemon sent it, in the same key order', () => {
    const original = parse();
    const filtered = filterSystemDf(policy('web'), parse());
    expect(Object.keys(filtered)).toEqual(Object.keys(original));
    for (const key of Object.keys(original)) if (key !== 'Containers') expect(filtered[key]).toEqual(original[key]);
    // Kept entries are whole: same fields, same values.
    expect(filtered.Containers).toEqual(original.Containers.filter((c) => ['/web-a', '/web-b'].includes(ownName(c.Names)!)));
  });

  it('filters ContainerUsage.Items (API 1.52) as well as the legacy Containers, and recomputes no count', () => {
    const df = parse();
    const usage = { ActiveCount: 4, Items: df.Containers, Reclaimable: 0, TotalCount: 5, TotalSize: 10 };
    const summary = { kept: 0, seen: 0 };
    const filtered = filterSystemDf(policy('web'), { ...df, ContainerUsage: usage }, summary);
    const filteredUsage = filtered.ContainerUsage as typeof usage;
    expect(own(filteredUsage.Items)).toEqual(['/web-b', '/web-a']);
    expect(own(filtered.Containers as Df['Containers'])).toEqual(['/web-b', '/web-a']);
    expect({ ...filteredUsage, Items: [] }).toEqual({ ...usage, Items: [] });
    // One container list counted, not both.
    expect(summary).toEqual({ kept: 2, seen: 5 });
    // 1.52 with `verbose`: only the new field.
    const current = filterSystemDf(policy('web'), { ContainerUsage: usage, ImageUsage: { TotalCount: 1 } });
    expect(own((current.ContainerUsage as typeof usage).Items)).toEqual(['/web-b', '/web-a']);
    expect(current.Containers).toBeUndefined();
    expect(current.ImageUsage).toEqual({ TotalCount: 1 });
  });

  it.each([
    ['no container list', {}, undefined],
    ['a null container list', { Containers: null }, null],
    ['a usage without items', { ContainerUsage: { TotalCount: 3 } }, undefined],
  ])('accepts %s', (_title, df, containers) => {
    expect(filterSystemDf(policy('web'), df).Containers).toEqual(containers);
  });

  it.each([
    ['not an object', [{ Names: ['/db-hidden'] }]],
    ['null', null],
    ['Containers not a list', { Containers: { x: { Names: ['/db-hidden'] } } }],
    ['a container that is not an object', { Containers: ['/db-hidden'] }],
    ['labels that are not an object', { Containers: [{ Names: ['/db-hidden'], Labels: 'a=b' }] }],
    ['a label value that is not a string', { Containers: [{ Names: ['/db-hidden'], Labels: { a: 1 } }] }],
    ['ContainerUsage not an object', { ContainerUsage: [{ Names: ['/db-hidden'] }] }],
    ['ContainerUsage.Items not a list', { ContainerUsage: { Items: { Names: ['/db-hidden'] } } }],
  ])('throws on %s', (_title, df) => {
    expect(() => filterSystemDf(policy('web'), df)).toThrow(UnexpectedShape);
  });
});

describe('GET /system/df through the app', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance | undefined;

  const raw =
    (status: number, body: string | Buffer, headers: Record<string, string> = {}): FakeHandler =>
    (_request, response) => {
      response.writeHead(status, { ...DAEMON_HEADERS, 'content-type': 'application/json', ...headers });
      response.end(body);
    };

  async function start(env: Env = {}): Promise<FastifyInstance> {
    const config = parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent', ...env });
    app = await buildApp({ config, resolver: { watchEvents: false } });
    return app;
  }

  beforeEach(async () => {
    upstream = await startFakeUpstream();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await upstream.close();
  });

  it.each([
    ['/v1.41/system/df', '/v1.41/system/df'],
    ['/system/df?type=container', '/system/df?type=container'],
    ['/v1.41/system/./df', '/v1.41/system/df'],
  ])('%s: drops hidden containers and keeps the rest', async (url, upstreamUrl) => {
    upstream.on('GET', /\/system\/df$/, raw(200, recorded, { 'content-length': String(recorded.length) }));
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url, headers: { 'x-trace': 't1' } });
    expect(response.statusCode).toBe(200);
    const body = response.json() as Df;
    expect(own(body.Containers)).toEqual(['/web-b', '/web-a']);
    expect(response.body.endsWith('}\n')).toBe(true);
    expect(response.body).not.toContain('db-hidden');
    expect(response.body).not.toContain(DB_HIDDEN_ID);
    expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['api-version']).toBe('1.41');
    expect(upstream.requests[0]!.url).toBe(upstreamUrl);
    expect(upstream.requests[0]!.headers['x-trace']).toBe('t1');
  });

  it('with neither list set, the answer is every container', async () => {
    upstream.on('GET', '/system/df', raw(200, recorded));
    const sieve = await start({ CONTAINER_NAMES: '' });
    const response = await sieve.inject({ method: 'GET', url: '/system/df' });
    expect(response.json()).toEqual(parse());
  });

  it('passes a non-200 answer through unchanged', async () => {
    upstream.on('GET', '/system/df', (_r, res) => {
      res.writeHead(403, { 'content-type': 'text/html', 'content-length': '14' });
      res.end('<h1>403</h1>\n\n');
    });
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url: '/system/df' });
    expect(response.statusCode).toBe(403);
    expect(response.body).toBe('<h1>403</h1>\n\n');
  });

  it.each([
    ['truncated', recorded.subarray(0, recorded.length - 40)],
    ['cut inside the hidden container', recorded.subarray(0, recorded.indexOf('db-hidden') + 20)],
    ['not JSON', Buffer.from(`{"Containers":[{"Names":["/db-hidden"]}]}}`)],
    ['an array', Buffer.from(`[${recorded.toString('utf8')}]`)],
    ['Containers as a map', Buffer.from(JSON.stringify({ Containers: { [DB_HIDDEN_ID]: { Names: ['/db-hidden'] } } }))],
  ])('answers 502 for a %s upstream body, never its bytes', async (_title, body) => {
    upstream.on('GET', '/v1.41/system/df', raw(200, body));
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url: '/v1.41/system/df' });
    expect(response.statusCode).toBe(502);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.json().message).toMatch(/^docker-sieve: /);
    expect(response.body).not.toContain('db-hidden');
    expect(response.body).not.toContain('hunter2');
  });

  it('answers 502 in plain text for API 1.23', async () => {
    upstream.on('GET', '/v1.23/system/df', raw(200, '{"Containers":7}'));
    const sieve = await start();
    const response = await sieve.inject({ method: 'GET', url: '/v1.23/system/df' });
    expect(response.statusCode).toBe(502);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('answers 502 when the upstream is down', async () => {
    const sieve = await start();
    await upstream.close();
    const response = await sieve.inject({ method: 'GET', url: '/system/df' });
    expect(response.statusCode).toBe(502);
    upstream = await startFakeUpstream();
  });
});
