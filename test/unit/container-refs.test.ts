// Container refs outside the path: create bodies, network connect, build and commit queries, and prune.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { refsInConnectBody, refsInCreateBody, refsInQuery } from '../../src/filters/container-refs.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

describe('refsInCreateBody', () => {
  it.each([
    [{ Image: 'x' }, []],
    [{ HostConfig: { NetworkMode: 'container:db' } }, ['db']],
    [{ HostConfig: { NetworkMode: 'bridge', PidMode: 'container:a1b2', IpcMode: 'container:/c' } }, ['a1b2', '/c']],
    [{ HostConfig: { IpcMode: 'shareable', PidMode: 'host' } }, []],
    [{ HostConfig: { VolumesFrom: ['db:ro', 'web'] } }, ['db', 'web']],
    [{ HostConfig: { Links: ['/db:alias', 'cache'] } }, ['db', 'cache']],
    // Go decodes field names case-insensitively: every spelling counts.
    [{ hostconfig: { networkmode: 'container:db' } }, ['db']],
    [{ HostConfig: {}, HOSTCONFIG: { LINKS: ['db:x'] } }, ['db']],
    [{ NetworkingConfig: { EndpointsConfig: { net1: { Links: ['db:alias'] } } } }, ['db']],
    [{ HostConfig: null }, []],
    [[], []],
  ])('%j → %j', (body, refs) => {
    expect(refsInCreateBody(JSON.stringify(body))).toEqual(refs);
  });

  // The daemon decodes with Go's encoding/json: Unicode folding of field names, and a duplicate key merged into
  // what an earlier one set (JSON.parse would keep only the last). Both were ways past the gate.
  it.each([
    ['{"Ho\u017ftConfig":{"NetworkMode":"container:db"}}', ['db']],
    ['{"HostConfig":{"Link\u017f":["db:x"]}}', ['db']],
    ['{"HostConfig":{"NetworkMode":"container:db"},"HostConfig":{}}', ['db']],
    ['{"HostConfig":{"NetworkMode":"container:db"},"HostConfig":{"NetworkMode":"container:web"}}', ['db', 'web']],
    ['{"NetworkingConfig":{"Endpoint\u017fConfig":{"n":{"Links":["db:a"]}}}}', ['db']],
    ['{"NetworkingConfig":{"EndpointsConfig":{"n":{"Links":["db:a"]},"n":{}}}}', ['db']],
  ])('%s → %j', (text, refs) => {
    expect(refsInCreateBody(text)).toEqual(refs);
  });
});

describe('refsInConnectBody and refsInQuery', () => {
  it.each([
    [{ Container: 'db' }, ['db']],
    [{ container: 'db', EndpointConfig: {} }, ['db']],
    [{}, []],
  ])('connect %j → %j', (body, refs) => {
    expect(refsInConnectBody(JSON.stringify(body))).toEqual(refs);
  });

  it('connect: every spelling and duplicate of Container counts', () => {
    expect(refsInConnectBody('{"Container":"db","Container":"web"}')).toEqual(['db', 'web']);
    expect(refsInConnectBody('{"Contai\u212Aner":"db"}')).toEqual([]);
  });

  it.each([
    ['build', 'networkmode=container:db&t=x', ['db']],
    ['build', 'networkmode=host', []],
    ['build', 'networkmode=bridge&networkmode=container:db', ['db']],
    ['commit', 'container=web-a&repo=r', ['web-a']],
    ['commit', 'repo=r', []],
  ] as const)('%s ?%s → %j', (kind, query, refs) => {
    expect(refsInQuery(kind, query)).toEqual(refs);
  });
});

describe('routes', () => {
  const WEB = { Id: 'a'.repeat(64), Name: '/web-a', Config: { Labels: {} } };
  const DB = { Id: 'b'.repeat(64), Name: '/db-hidden', Config: { Labels: {} } };
  let upstream: FakeUpstream;
  let app: FastifyInstance;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    for (const c of [WEB, DB]) {
      upstream.on('GET', `/containers/${c.Name.slice(1)}/json`, json(200, c));
      upstream.on('GET', `/containers/${c.Id}/json`, json(200, c));
    }
    upstream.on('POST', /.*/, (r, res) => json(201, { Id: 'new', echo: r.body.toString('utf8') })(r, res));
  });

  afterEach(async () => {
    await app?.close();
    await upstream.close();
  });

  async function start(env: Env = {}): Promise<void> {
    app = await buildApp({
      config: parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent', ...env }),
      resolver: { watchEvents: false },
    });
  }

  const posts = () => upstream.requests.filter((r) => r.method === 'POST');

  it.each([
    ['network mode', { Image: 'x', HostConfig: { NetworkMode: 'container:db-hidden' } }],
    ['links', { Image: 'x', HostConfig: { Links: ['/db-hidden:db'] } }],
    ['volumes-from', { Image: 'x', HostConfig: { VolumesFrom: ['db-hidden:ro'] } }],
    ['lower-case keys', { image: 'x', hostconfig: { pidmode: 'container:db-hidden' } }],
  ])('create naming a hidden container through %s is 404 and not forwarded', async (_how, body) => {
    await start();
    const response = await app.inject({ method: 'POST', url: '/v1.41/containers/create?name=n', payload: body });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'No such container: db-hidden' });
    expect(posts()).toEqual([]);
  });

  it('create naming only visible containers is forwarded with the exact bytes that were judged', async () => {
    await start();
    const raw = '{ "Image":"x",\n  "HostConfig": {"NetworkMode":"container:web-a", "Links":["web-a:w"]} }';
    const response = await app.inject({
      method: 'POST',
      url: '/v1.41/containers/create?name=n',
      headers: { 'content-type': 'application/json' },
      payload: raw,
    });
    expect(response.statusCode).toBe(201);
    expect(posts()[0]!.body.toString('utf8')).toBe(raw);
    expect(posts()[0]!.url).toBe('/v1.41/containers/create?name=n');
  });

  it('refuses a create body it cannot judge: too large (413) or not JSON (400)', async () => {
    await start();
    const big = await app.inject({ method: 'POST', url: '/containers/create', payload: { Image: 'x', pad: 'x'.repeat(1024 * 1024) } });
    expect(big.statusCode).toBe(413);
    const bad = await app.inject({ method: 'POST', url: '/containers/create', headers: { 'content-type': 'application/json' }, payload: '{"HostConfig":' });
    expect(bad.statusCode).toBe(400);
    expect(posts()).toEqual([]);
  });

  it('network connect of a hidden container is 404; of a visible one is forwarded', async () => {
    await start();
    const hidden = await app.inject({ method: 'POST', url: '/networks/n1/connect', payload: { Container: 'db-hidden' } });
    expect(hidden.statusCode).toBe(404);
    expect(posts()).toEqual([]);
    const visible = await app.inject({ method: 'POST', url: '/networks/n1/disconnect', payload: { Container: 'web-a', Force: true } });
    expect(visible.statusCode).toBe(201);
    expect(posts()[0]!.url).toBe('/networks/n1/disconnect');
  });

  it('build with networkmode=container:<hidden> is 404; commit of a visible container goes out by full ID', async () => {
    await start();
    const build = await app.inject({ method: 'POST', url: '/build?networkmode=container:db-hidden', payload: 'tar bytes' });
    expect(build.statusCode).toBe(404);
    const hiddenCommit = await app.inject({ method: 'POST', url: '/commit?container=db-hidden&repo=r' });
    expect(hiddenCommit.statusCode).toBe(404);
    expect(posts()).toEqual([]);
    const commit = await app.inject({ method: 'POST', url: '/commit?container=web-a&repo=r' });
    expect(commit.statusCode).toBe(201);
    expect(posts()[0]!.url).toBe(`/commit?container=${WEB.Id}&repo=r`);
  });

  it('container prune is refused with 403 while filtering, and forwarded without filters', async () => {
    await start();
    const refused = await app.inject({ method: 'POST', url: '/containers/prune' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().message).toMatch(/prune is refused/);
    expect(posts()).toEqual([]);
    await app.close();
    app = await buildApp({ config: parseConfig({ PROXY_URL: upstream.url, LOG_LEVEL: 'silent' }), resolver: { watchEvents: false } });
    expect((await app.inject({ method: 'POST', url: '/containers/prune' })).statusCode).toBe(201);
  });
});
