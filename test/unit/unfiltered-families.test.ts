// While filtering, a family docker-sieve does not filter (Podman's native API, a family it does not know) is
// refused with a 403 and nothing is forwarded; with no filters it passes like everything else.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

let upstream: FakeUpstream;
let app: FastifyInstance | undefined;

async function start(env: Env): Promise<FastifyInstance> {
  app = await buildApp({ config: parseConfig({ PROXY_URL: upstream.url, LOG_LEVEL: 'silent', ...env }), resolver: { watchEvents: false } });
  return app;
}

beforeEach(async () => {
  upstream = await startFakeUpstream();
  upstream.on('GET', /./, json(200, [{ Names: ['hidden'], Config: { Env: ['SECRET=hunter2'] } }]));
  upstream.on('HEAD', /./, json(200, ''));
  upstream.on('POST', /./, json(200, { Id: 'x' }));
  upstream.on('DELETE', /./, json(200, []));
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  await upstream.close();
});

/** What docker-sieve does not filter under /libpod: refused while filtering (the filtered routes: libpod.test.ts). */
const LIBPOD: Array<[method: string, url: string]> = [
  ['DELETE', '/v4.3.1/libpod/images/x?force=true'],
  ['DELETE', '/v4.3.1/libpod/volumes/v1?force=true'],
  ['GET', '/v4.3.1/libpod/containers/showmounted'],
  ['POST', '/v4.3.1/libpod/pods/create'],
  ['POST', '/v4.3.1/libpod/system/prune'],
  ['POST', '/v4.3.1/libpod/secrets/create'],
  ['DELETE', '/v4.3.1/libpod/networks/n1?force=true'],
  ['HEAD', '/v4.3.1/libpod/containers/hidden/exists'],
  ['GET', '/v4.3.1/libpod/generate/hidden/kube'],
  ['GET', '/libpod//nosuchfamily/./x'],
  ['DELETE', '/libpod/%69mages/x'],
];

const UNKNOWN: Array<[method: string, url: string]> = [
  ['GET', '/'],
  ['GET', '/debug/pprof/goroutine'],
  ['GET', '/v1.41/nosuchfamily'],
  ['GET', '/v4.0.0-dev/containers/json'],
  ['GET', '/__proto__'],
];

describe('while filtering', () => {
  it.each(LIBPOD)("%s %s: 403, Podman's native API is not filtered, nothing forwarded", async (method, url) => {
    const sieve = await start({ CONTAINER_LABELS: 'homepage' });
    const response = await sieve.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBe(403);
    expect(upstream.requests).toEqual([]);
    if (method !== 'HEAD') {
      expect(response.headers['content-type']).toBe('application/json');
      const message = response.json().message as string;
      expect(message).toContain("does not filter Podman's native API");
      expect(message).toContain('Docker-compatible API');
      expect(response.body).not.toContain('hunter2');
    }
  });

  it.each(UNKNOWN)('%s %s: a family docker-sieve does not know gets 403, nothing forwarded', async (method, url) => {
    const sieve = await start({ CONTAINER_NAMES: 'web' });
    const response = await sieve.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toMatch(/^docker-sieve: .* refused while container filters are active$/);
    expect(upstream.requests).toEqual([]);
  });

  it('kube play says why it is refused: it can replace containers by name', async () => {
    const sieve = await start({ CONTAINER_LABELS: 'homepage' });
    for (const url of ['/v4.3.1/libpod/play/kube', '/v4.3.1/libpod/kube/play']) {
      const response = await sieve.inject({ method: 'POST', url });
    expect(response.statusCode).toBe(403);
      expect(response.json().message).toContain('can replace containers by name');
    }
    expect(upstream.requests).toEqual([]);
  });

  it.each([
    ['GET', '/libpod/_ping'],
    ['HEAD', '/libpod/_ping'],
    ['GET', '/v4.0.0/libpod/_ping'],
    ['GET', '/v4.3.1/libpod/version'],
    ['GET', '/libpod/info'],
    ['GET', '/v1.41/info'],
    ['GET', '/v1.41/images/json'],
    ['GET', '/volumes'],
  ])('%s %s passes', async (method, url) => {
    const sieve = await start({ CONTAINER_LABELS: 'homepage' });
    const response = await sieve.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBe(200);
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`${method} ${url}`]);
  });

  it('an API 1.23 client gets the refusal in plain text', async () => {
    const sieve = await start({ CONTAINER_NAMES: 'web' });
    const response = await sieve.inject({ method: 'GET', url: '/v1.23/nosuchfamily' });
    expect(response.statusCode).toBe(403);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
  });
});

describe('with no filters', () => {
  it.each([...LIBPOD, ...UNKNOWN.filter(([, url]) => url !== '/')])('%s %s passes as it came', async (method, url) => {
    const sieve = await start({});
    const response = await sieve.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBe(200);
    expect(upstream.requests).toHaveLength(1);
  });
});
