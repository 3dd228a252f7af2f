// The forward (src/upstream/forward.ts) on a real socket: what the upstream receives, what comes back, and that a client
// that goes away before the answer takes its upstream request with it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

let upstream: FakeUpstream;
let app: FastifyInstance;

beforeEach(async () => {
  upstream = await startFakeUpstream();
});
afterEach(async () => {
  await app?.close();
  await upstream.close();
});

async function listen(env: Record<string, string> = {}): Promise<number> {
  app = await buildApp({ config: parseConfig({ PROXY_URL: upstream.url, LOG_LEVEL: 'silent', ...env }), resolver: { watchEvents: false } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

/** Sends `head` (and `body`) on a raw socket and resolves with everything the server sends until it closes or `ms`. */
function raw(port: number, head: string, body = '', ms = 1500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head + body));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

describe('forward', () => {
  it("sends the judged path with the upstream's Host and no hop-by-hop headers, and streams the answer back", async () => {
    upstream.on('POST', '/v1.41/containers/abc/restart', json(204, ''));
    const port = await listen();
    const answer = await raw(
      port,
      'POST /v1.41/containers/abc/restart?t=3 HTTP/1.1\r\nHost: sieve.example\r\nConnection: close, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Keep: yes\r\nContent-Length: 2\r\n\r\n',
      '{}',
    );
    expect(answer).toMatch(/^HTTP\/1.1 204 /);
    expect(upstream.requests).toHaveLength(1);
    const seen = upstream.requests[0]!;
    expect(seen.url).toBe('/v1.41/containers/abc/restart?t=3');
    expect(seen.headers.host).toBe(new URL(upstream.url).host);
    expect(seen.headers['x-keep']).toBe('yes');
    expect(seen.headers['x-drop']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.body.toString()).toBe('{}');
  });

  it('a chunked request body streams through', async () => {
    upstream.on('POST', '/build', json(200, { stream: 'ok' }));
    const port = await listen();
    const answer = await raw(port, 'POST /build HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 200 /);
    expect(upstream.requests[0]!.body.toString()).toBe('hello world');
  });

  it('a client that goes away before the answer aborts its upstream request', async () => {
    let upstreamClosed: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    // Like `docker wait`: the daemon answers when the container exits, here never.
    upstream.on('POST', '/containers/abc/wait', (_request, response) => {
      response.on('close', () => upstreamClosed());
    });
    const port = await listen();
    await raw(port, 'POST /containers/abc/wait HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', '', 300);
    await expect(Promise.race([closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still open'), 3000))])).resolves.toBe('closed');
  });

  it('an unreachable upstream is a Docker-style 502', async () => {
    const port = await listen();
    await upstream.close();
    const answer = await raw(port, 'GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 502 /);
    expect(answer).toContain('"message":"docker-sieve: upstream unavailable');
  });
});
