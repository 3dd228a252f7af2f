// Upstream faults and resource bounds: down and back, slow, many random refs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

let app: FastifyInstance | undefined;
let upstream: FakeUpstream | undefined;

afterEach(async () => {
  await app?.close();
  await upstream?.close();
  app = undefined;
  upstream = undefined;
});

async function build(env: Env, resolver = {}): Promise<FastifyInstance> {
  app = await buildApp({ config: parseConfig({ LOG_LEVEL: 'silent', CONTAINER_NAMES: 'web', ...env }), resolver: { watchEvents: false, ...resolver } });
  return app;
}

describe('upstream down, then back', () => {
  it('answers a fast Docker-style 502 while it is down and recovers without a restart', async () => {
    // Take a port, then free it: nothing listens there until the upstream "comes back".
    const probe: Server = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    await build({ PROXY_URL: `http://127.0.0.1:${port}` });
    for (const url of ['/version', '/containers/json', '/containers/web-a/json', '/events']) {
      const started = Date.now();
      const response = await app!.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(502);
      expect(response.headers['content-type']).toBe('application/json');
      expect(response.json().message).toMatch(/^docker-sieve: /);
      expect(Date.now() - started).toBeLessThan(1000);
    }

    const back = createServer((req, res) => {
      if (req.url === '/version') json(200, { Version: 'back' })({ method: 'GET', url: '/version', headers: {}, body: Buffer.alloc(0) }, res);
      else json(404, { message: 'page not found' })({ method: 'GET', url: req.url ?? '', headers: {}, body: Buffer.alloc(0) }, res);
    });
    await new Promise<void>((resolve) => back.listen(port, '127.0.0.1', resolve));
    try {
      const response = await app!.inject({ method: 'GET', url: '/version' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ Version: 'back' });
    } finally {
      back.closeAllConnections();
      await new Promise<void>((resolve) => back.close(() => resolve()));
    }
  });

  it('times a slow lookup out with a 502 (LOOKUP_TIMEOUT) and forwards nothing', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/containers/web-a/json', async (r, res) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      json(200, { Id: 'a'.repeat(64), Name: '/web-a', Config: { Labels: {} } })(r, res);
    });
    await build({ PROXY_URL: upstream.url, LOOKUP_TIMEOUT: '0.3' });
    const started = Date.now();
    const response = await app!.inject({ method: 'GET', url: '/containers/web-a/logs' });
    expect(response.statusCode).toBe(502);
    expect(Date.now() - started).toBeLessThan(1200);
    expect(upstream.requests.filter((r) => r.url.includes('/logs'))).toEqual([]);
  });
});

describe('a slow upstream', () => {
  it('is cut at UPSTREAM_HEADERS_TIMEOUT when its headers do not come, but a quiet stream is never cut', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/version', () => undefined); // never answers
    upstream.on('GET', '/containers/json', () => undefined);
    upstream.on('GET', '/events', (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders(); // then silence, longer than the timeout
    });
    await build({ PROXY_URL: upstream.url, UPSTREAM_HEADERS_TIMEOUT: '0.4' });
    await app!.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app!.server.address() as AddressInfo).port}`;
    for (const path of ['/version', '/containers/json']) {
      const started = Date.now();
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBeGreaterThanOrEqual(502);
      expect(((await response.json()) as { message: string }).message).toMatch(/^docker-sieve: /);
      expect(Date.now() - started).toBeLessThan(2000);
    }
    const stream = await fetch(`${base}/events`);
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const outcome = await Promise.race([
      reader.read().then(() => 'ended'),
      new Promise((resolve) => setTimeout(() => resolve('still open'), 1500)),
    ]);
    expect(outcome).toBe('still open');
    await reader.cancel();
  });
});

describe('many random refs', () => {
  it('looks each distinct ref up once per TTL, shares concurrent lookups, and keeps the caches bounded', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', /^\/containers\/.+\/json$/, json(404, { message: 'No such container' }));
    await build({ PROXY_URL: upstream.url }, { maxEntries: 500 });
    const refs = Array.from({ length: 3000 }, (_, i) => `random-${i}`);
    // Every ref twice, the second time while the first lookup may still be in flight.
    const answers = await Promise.all(
      refs.flatMap((ref) => [app!.inject({ method: 'GET', url: `/containers/${ref}/json` }), app!.inject({ method: 'GET', url: `/containers/${ref}/top` })]),
    );
    expect(answers.every((a) => a.statusCode === 404)).toBe(true);
    expect(upstream.requests).toHaveLength(refs.length);
    const { resolver } = app!.sieve;
    expect(resolver.stats.lookups).toBe(refs.length);
    expect(resolver.cacheEntries.refs).toBeLessThanOrEqual(500);
    expect(resolver.cacheEntries.refs).toBeGreaterThan(0);
  }, 60_000);
});

describe('the container went away between the judgement and the forward', () => {
  it("gets the daemon's 404 about the client's ref, as exactly application/json (the docker CLI reads `message` only then)", async () => {
    const id = 'c'.repeat(64);
    upstream = await startFakeUpstream();
    upstream.on('GET', '/containers/web-a/json', json(200, { Id: id, Name: '/web-a', Config: { Labels: {} } }));
    upstream.on('GET', `/containers/${id}/logs`, json(404, { message: `No such container: ${id}` }));
    await build({ PROXY_URL: upstream.url });
    const response = await app!.inject({ method: 'GET', url: '/containers/web-a/logs?stdout=1' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.json()).toEqual({ message: 'No such container: web-a' });
    expect(response.body).not.toContain(id);
  });
});
