// With neither CONTAINER_NAMES nor CONTAINER_LABELS, every container is visible and there is nothing to gate:
// each request goes upstream as it came (cleaned), and its answer comes back unchanged. SCRUB_ENVS is the one
// exception: inspects are still scrubbed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { DAEMON_HEADERS, json, startFakeUpstream, type FakeHandler, type FakeUpstream } from './fake-upstream.js';

let upstream: FakeUpstream;
let app: FastifyInstance | undefined;

async function start(env: Env = {}): Promise<FastifyInstance> {
  app = await buildApp({ config: parseConfig({ PROXY_URL: upstream.url, LOG_LEVEL: 'silent', ...env }), resolver: { watchEvents: false } });
  return app;
}

/** What a socket proxy with POST=0 says to a write. */
const FORBIDDEN: FakeHandler = (_request, response) => {
  response.writeHead(403, { 'content-type': 'text/html', 'cache-control': 'no-cache', 'content-length': '93' });
  response.end('<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n');
};

beforeEach(async () => {
  upstream = await startFakeUpstream();
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  await upstream.close();
});

const MISSING = 'no-such-container-xyz';

describe('with no filters, a request goes upstream as it came', () => {
  it.each([
    ['DELETE', `/v1.41/containers/${MISSING}?force=1`],
    ['POST', `/v1.41/containers/${MISSING}/wait?condition=not-running`],
    ['POST', `/v1.41/containers/${MISSING}/restart`],
    ['POST', `/v1.41/containers/${MISSING}/kill`],
    ['POST', '/v1.41/containers/prune'],
    ['POST', '/v1.41/containers/create?name=x'],
    ['POST', `/v1.41/commit?container=${MISSING}`],
    ['POST', '/v1.41/networks/n1/connect'],
    ['POST', `/v1.41/containers/${MISSING}/json`],
    ['GET', `/v1.41/containers/${MISSING}/nope`],
    ['GET', '/v1.41/CONTAINERS/json'],
  ])("%s %s: the socket proxy's refusal, unchanged, with no lookup first", async (method, url) => {
    upstream.on(method, /./, FORBIDDEN);
    const sieve = await start();
    const response = await sieve.inject({ method: method as 'POST', url, payload: method === 'POST' ? '{"HostConfig":{"NetworkMode":"container:db"}}' : undefined });
    expect(response.statusCode).toBe(403);
    expect(response.headers['content-type']).toBe('text/html');
    expect(response.body).toContain('Request forbidden by administrative rules.');
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`${method} ${url}`]);
    if (method === 'POST') expect(upstream.requests[0]!.body.toString()).toBe('{"HostConfig":{"NetworkMode":"container:db"}}');
  });

  it.each([
    ['GET', `/v1.41/containers/${MISSING}/json`],
    ['GET', `/v1.41/containers/${MISSING}/logs?stdout=1`],
    ['DELETE', `/v1.41/containers/${MISSING}?force=1`],
  ])("%s %s: the daemon's own 404, byte for byte", async (method, url) => {
    const body = `{"message":"No such container: ${MISSING}"}\n`;
    upstream.on(method, /./, (_request, response) => {
      response.writeHead(404, { ...DAEMON_HEADERS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    });
    const sieve = await start();
    const response = await sieve.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBe(404);
    expect(response.body).toBe(body);
    expect(response.headers['api-version']).toBe('1.41');
    expect(upstream.requests).toHaveLength(1);
  });

  it('the list and the events are the upstream bytes', async () => {
    const list = '[{"Id":"a","Names":["/db"],"Labels":{}} , {"Id":"b","Names":["/web"]}]\n';
    upstream.on('GET', '/containers/json', json(200, list.trim()));
    upstream.on('GET', '/events', json(200, '{"Type":"container","Action":"start","Actor":{"ID":"a","Attributes":{"name":"db"}}}'));
    const sieve = await start();
    expect((await sieve.inject({ method: 'GET', url: '/containers/json' })).body).toBe(list);
    expect((await sieve.inject({ method: 'GET', url: '/events' })).body).toContain('"name":"db"');
  });

  it('a path is cleaned the same way before it goes', async () => {
    upstream.on('GET', /./, json(200, {}));
    const sieve = await start();
    await sieve.inject({ method: 'GET', url: '/v1.41//containers/./x/../web/json' });
    expect(upstream.requests.map((r) => r.url)).toEqual(['/v1.41/containers/web/json']);
    const malformed = await sieve.inject({ method: 'GET', url: '/containers/%zz/json' });
    expect(malformed.statusCode).toBe(400);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('with no filters and SCRUB_ENVS', () => {
  it('container inspect goes as it came and comes back scrubbed', async () => {
    upstream.on('GET', '/v1.41/containers/web/json', json(200, { Id: 'a', Name: '/web', Config: { Env: ['SECRET=hunter2'], Image: 'x' } }));
    const sieve = await start({ SCRUB_ENVS: 'true' });
    const response = await sieve.inject({ method: 'GET', url: '/v1.41/containers/web/json' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ Id: 'a', Name: '/web', Config: { Env: [], Image: 'x' } });
    expect(upstream.requests.map((r) => r.url)).toEqual(['/v1.41/containers/web/json']);
  });

  it('exec inspect is scrubbed too', async () => {
    const id = 'e'.repeat(64);
    upstream.on('GET', `/exec/${id}/json`, json(200, { ID: id, ContainerID: 'a', ProcessConfig: { entrypoint: 'sh', arguments: ['-c', 'echo hunter2'] } }));
    const sieve = await start({ SCRUB_ENVS: 'true' });
    const response = await sieve.inject({ method: 'GET', url: `/exec/${id}/json` });
    expect(response.body).not.toContain('hunter2');
    expect(response.json().ProcessConfig).toEqual({ entrypoint: '', arguments: [] });
    expect(upstream.requests).toHaveLength(1);
  });

  it('a missing container is the daemon answer, unchanged', async () => {
    upstream.on('GET', /./, FORBIDDEN);
    const sieve = await start({ SCRUB_ENVS: 'true' });
    const response = await sieve.inject({ method: 'GET', url: `/containers/${MISSING}/json` });
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('403 Forbidden');
  });

  it('a 200 that cannot be scrubbed is refused, never passed', async () => {
    upstream.on('GET', '/containers/web/json', json(200, '{"Config":{"Env":["SECRET=hunter2"]'));
    const sieve = await start({ SCRUB_ENVS: 'true' });
    const response = await sieve.inject({ method: 'GET', url: '/containers/web/json' });
    expect(response.statusCode).toBe(502);
    expect(response.body).not.toContain('hunter2');
  });
});

describe("with no filters and SCRUB_ENVS, Podman's native API", () => {
  it('libpod inspect loses Config.Env and Config.CreateCommand; generate is refused; a pod inspect loses its CreateCommand', async () => {
    const id = 'a'.repeat(64);
    upstream.on('GET', '/v4.3.1/libpod/containers/web/json', json(200, { Id: id, Name: 'web', Config: { Env: ['SECRET=hunter2'], CreateCommand: ['podman', 'run', '--env', 'SECRET=hunter2'] } }));
    upstream.on('GET', /\/libpod\/pods\/(p|b{64})\/json$/, json(200, { Id: 'b'.repeat(64), Name: 'p', InfraContainerID: '', Containers: [], CreateCommand: ['podman', 'pod', 'create', '--label', 'x=hunter2'] }));
    upstream.on('GET', /generate/, json(200, 'SECRET: hunter2'));
    const sieve = await start({ SCRUB_ENVS: 'true' });
    const inspect = await sieve.inject({ method: 'GET', url: '/v4.3.1/libpod/containers/web/json' });
    expect(inspect.json().Config).toEqual({ Env: [], CreateCommand: [] });
    const generate = await sieve.inject({ method: 'GET', url: '/v4.3.1/libpod/generate/kube?names=web' });
    expect(generate.statusCode).toBe(403);
    const pod = await sieve.inject({ method: 'GET', url: '/v4.3.1/libpod/pods/p/json' });
    expect(pod.statusCode).toBe(200);
    expect(pod.body).not.toContain('hunter2');
  });
});
