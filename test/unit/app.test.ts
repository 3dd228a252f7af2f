// The app against a scripted upstream over real HTTP on loopback: what is forwarded, what is refused, and
// what the client gets back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { request as undiciRequest } from 'undici';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { DAEMON_HEADERS, json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

interface Fake {
  Id: string;
  Name: string;
  Labels: Record<string, string>;
}
const WEB: Fake = { Id: 'a'.repeat(64), Name: '/web-a', Labels: { 'com.example.tier': 'front' } };
const DB: Fake = { Id: 'b'.repeat(64), Name: '/db-hidden', Labels: { secret: 'yes' } };
const LIST_ENTRY = (c: Fake, extraNames: string[] = []) => ({
  Id: c.Id,
  Names: [...extraNames, c.Name].sort(),
  Image: 'local/busybox:1',
  Labels: c.Labels,
  State: 'running',
});
const INSPECT = (c: Fake) => ({
  Id: c.Id,
  Name: c.Name,
  State: { Status: 'running' },
  Config: { Env: ['SECRET=hunter2', 'PATH=/bin'], Labels: c.Labels, Image: 'local/busybox:1' },
});

let upstream: FakeUpstream;
let app: FastifyInstance;

async function start(env: Env = {}): Promise<void> {
  const config = parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent', ...env });
  app = await buildApp({ config, resolver: { watchEvents: false } });
}

function inspectRoutes(): void {
  for (const c of [WEB, DB]) {
    for (const ref of [c.Id, c.Name.slice(1), c.Id.slice(0, 12)]) {
      upstream.on('GET', `/containers/${ref}/json`, json(200, INSPECT(c)));
    }
  }
}

function forwarded(pathPart: string): number {
  return upstream.requests.filter((r) => r.url.includes(pathPart)).length;
}

beforeEach(async () => {
  upstream = await startFakeUpstream();
});

afterEach(async () => {
  await app?.close();
  await upstream.close();
});

describe('GET /containers/json', () => {
  const list = [LIST_ENTRY(DB, ['/web-a/dbalias']), LIST_ENTRY(WEB)];
  // Go escapes & as \u0026: the kept element must come back exactly as the daemon wrote it.
  const raw = `[${JSON.stringify(list[0])},${JSON.stringify(list[1]).replace('front', 'fr\\u0026ont')}]\n`;

  it('drops hidden containers (a link alias does not count) and keeps the rest byte for byte', async () => {
    upstream.on('GET', '/v1.41/containers/json', (_r, res) => {
      res.writeHead(200, { ...DAEMON_HEADERS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(raw) });
      res.end(raw);
    });
    await start();
    const response = await app.inject({ method: 'GET', url: '/v1.41/containers/json?all=1&filters=%7B%7D' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(`[${JSON.stringify(list[1]).replace('front', 'fr\\u0026ont')}]\n`);
    expect(response.headers['content-length']).toBeUndefined();
    expect(response.headers['api-version']).toBe('1.41');
    expect(upstream.requests[0]!.url).toBe('/v1.41/containers/json?all=1&filters=%7B%7D');
  });

  it('applies limit after filtering: strips it upstream and adds all=1', async () => {
    const many = [LIST_ENTRY(DB), LIST_ENTRY({ ...WEB, Name: '/web-1' }), LIST_ENTRY({ ...WEB, Name: '/web-2' })];
    upstream.on('GET', '/containers/json', json(200, many));
    await start();
    const response = await app.inject({ method: 'GET', url: '/containers/json?limit=1&all=0&size=1' });
    expect(JSON.parse(response.body).map((c: { Names: string[] }) => c.Names[0])).toEqual(['/web-1']);
    expect(upstream.requests[0]!.url).toBe('/containers/json?size=1&all=1');
  });

  it('leaves a limit the daemon would refuse to the daemon', async () => {
    upstream.on('GET', '/containers/json', json(400, { message: 'strconv.Atoi: parsing "x": invalid syntax' }));
    await start();
    const response = await app.inject({ method: 'GET', url: '/containers/json?limit=x' });
    expect(response.statusCode).toBe(400);
    expect(upstream.requests[0]!.url).toBe('/containers/json?limit=x');
  });

  it('passes a non-200 answer through unchanged', async () => {
    upstream.on('GET', '/containers/json', (_r, res) => {
      res.writeHead(403, { 'content-type': 'text/plain', 'content-length': '10' });
      res.end('Forbidden\n');
    });
    await start();
    const response = await app.inject({ method: 'GET', url: '/containers/json' });
    expect(response.statusCode).toBe(403);
    expect(response.body).toBe('Forbidden\n');
    expect(response.headers['content-length']).toBe('10');
  });

  it.each([
    ['truncated', `[${JSON.stringify(LIST_ENTRY(WEB))},{"Id":"x"`],
    ['malformed element', `[${JSON.stringify(LIST_ENTRY(WEB))},{"Names":["/db"],,}]`],
    // Broken before the first element is complete: a 502, in broken-upstream.test.ts.
  ])('aborts a %s upstream list instead of ending it cleanly', async (_title, body) => {
    upstream.on('GET', '/containers/json', (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    await start();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    let failure: Error | { status: number; text: string };
    try {
      const r = await undiciRequest(`http://127.0.0.1:${port}/containers/json`);
      failure = { status: r.statusCode, text: await r.body.text() };
    } catch (error) {
      failure = error as Error;
    }
    // The response is cut off: the client never sees a complete list, let alone the hidden container.
    expect(failure).toBeInstanceOf(Error);
    // The process lives on and answers the next request.
    upstream.on('GET', '/_ping', json(200, 'OK'));
    const ping = await undiciRequest(`http://127.0.0.1:${port}/_ping`);
    expect(ping.statusCode).toBe(200);
    await ping.body.text();
  });
});

describe('container routes', () => {
  it.each([
    ['by name', 'db-hidden'],
    ['by full ID', DB.Id],
    ['by prefix', DB.Id.slice(0, 12)],
  ])('a hidden container %s is 404 and nothing is forwarded', async (_how, ref) => {
    inspectRoutes();
    upstream.on('GET', /\/logs$/, json(200, 'LOG LINES'));
    await start();
    const response = await app.inject({ method: 'GET', url: `/v1.41/containers/${ref}/logs?stdout=1` });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.json()).toEqual({ message: `No such container: ${ref}` });
    expect(response.headers['api-version']).toBe('1.41');
    expect(forwarded('/logs')).toBe(0);
  });

  it('a missing container is 404 with the ref', async () => {
    await start();
    const response = await app.inject({ method: 'GET', url: '/containers/nope/json' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'No such container: nope' });
  });

  it('answers API 1.23 and below in plain text', async () => {
    inspectRoutes();
    await start();
    const response = await app.inject({ method: 'GET', url: '/v1.23/containers/db-hidden/json' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toBe('No such container: db-hidden\n');
  });

  it('a visible container is forwarded with the ref replaced by the full ID that was judged', async () => {
    inspectRoutes();
    upstream.on('GET', `/v1.41/containers/${WEB.Id}/logs`, (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.docker.raw-stream' });
      res.end('hello\n');
    });
    await start();
    const response = await app.inject({ method: 'GET', url: '/v1.41/containers/web-a/logs?stdout=1&tail=5' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('hello\n');
    expect(upstream.requests.at(-1)!.url).toBe(`/v1.41/containers/${WEB.Id}/logs?stdout=1&tail=5`);
  });

  it('follows the container the daemon returns for a link alias, not the ref string', async () => {
    // `/containers/web-a/dbalias/json` names web-a in its ref, but the daemon resolves it to db-hidden.
    upstream.on('GET', '/containers/web-a/dbalias/json', json(200, INSPECT(DB)));
    upstream.on('GET', `/containers/${DB.Id}/json`, json(200, INSPECT(DB)));
    await start();
    const response = await app.inject({ method: 'GET', url: '/containers/web-a/dbalias/json' });
    expect(response.statusCode).toBe(404);
    expect(response.body).not.toContain('hunter2');
    expect(forwarded(DB.Id)).toBe(0);
  });

  it('decodes the path before it splits out the ref: db%2Fjson is an inspect of db', async () => {
    upstream.on('GET', '/containers/db/json', json(200, INSPECT({ ...DB, Name: '/db' })));
    await start();
    const response = await app.inject({ method: 'GET', url: '/v1.41/containers/db%2Fjson' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'No such container: db' });
  });

  it('gates DELETE and POST routes before forwarding', async () => {
    inspectRoutes();
    upstream.on('DELETE', new RegExp(DB.Id), json(204, ''));
    upstream.on('POST', new RegExp(DB.Id), json(204, ''));
    await start();
    expect((await app.inject({ method: 'DELETE', url: '/containers/db-hidden?force=1' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/containers/db-hidden/kill' })).statusCode).toBe(404);
    expect(upstream.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('translates the daemon 404 for a removed ID back to the ref the client sent', async () => {
    inspectRoutes();
    upstream.on('GET', `/containers/${WEB.Id}/top`, json(404, { message: `No such container: ${WEB.Id}` }));
    await start();
    const response = await app.inject({ method: 'GET', url: '/containers/web-a/top' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'No such container: web-a' });
  });

  it('answers 502 when the lookup fails, forwards nothing and caches nothing', async () => {
    let calls = 0;
    upstream.on('GET', '/containers/web-a/json', (r, res) => {
      calls++;
      if (calls === 1) json(500, { message: 'boom' })(r, res);
      else json(200, INSPECT(WEB))(r, res);
    });
    upstream.on('GET', `/containers/${WEB.Id}/json`, json(200, INSPECT(WEB)));
    await start();
    const first = await app.inject({ method: 'GET', url: '/containers/web-a/json' });
    expect(first.statusCode).toBe(502);
    expect(first.json().message).toMatch(/lookup answered 500/);
    expect(forwarded(WEB.Id)).toBe(0);
    const second = await app.inject({ method: 'GET', url: '/containers/web-a/json' });
    expect(second.statusCode).toBe(200);
    expect(calls).toBe(2);
  });

  it('relays the socket proxy refusing the lookup', async () => {
    upstream.on('GET', /^\/containers\//, (_r, res) => {
      res.writeHead(403, { 'content-type': 'text/html' });
      res.end('<html><body><h1>403 Forbidden</h1></body></html>\n');
    });
    await start();
    const response = await app.inject({ method: 'GET', url: '/containers/web-a/json' });
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('403 Forbidden');
  });

  it('answers 502 quickly when the upstream is down', async () => {
    await start({ PROXY_URL: 'http://127.0.0.1:9' });
    const started = Date.now();
    const lookup = await app.inject({ method: 'GET', url: '/containers/web-a/json' });
    const list = await app.inject({ method: 'GET', url: '/containers/json' });
    const pass = await app.inject({ method: 'GET', url: '/version' });
    expect([lookup.statusCode, list.statusCode, pass.statusCode]).toEqual([502, 502, 502]);
    for (const response of [lookup, list, pass]) expect(response.json().message).toMatch(/docker-sieve/);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('resolver cache', () => {
  it('shares concurrent lookups and serves warm hits without an upstream request', async () => {
    upstream.on('GET', '/containers/web-a/json', async (r, res) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      json(200, INSPECT(WEB))(r, res);
    });
    upstream.on('GET', `/containers/${WEB.Id}/stats`, json(200, { read: 'now' }));
    await start();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => app.inject({ method: 'GET', url: '/containers/web-a/stats?stream=false' })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(forwarded('/containers/web-a/json')).toBe(1);
    await app.inject({ method: 'GET', url: '/containers/web-a/stats?stream=false' });
    await app.inject({ method: 'GET', url: `/containers/${WEB.Id}/stats?stream=false` });
    expect(forwarded('/json')).toBe(1);
    expect(app.sieve.resolver.stats).toMatchObject({ lookups: 1 });
  });

  it('keeps a name mapping for 2 s at most without events, so a reused name is looked up again', async () => {
    let owner = INSPECT(WEB);
    upstream.on('GET', '/containers/web-a/json', (r, res) => json(200, owner)(r, res));
    upstream.on('GET', new RegExp(`/containers/(${WEB.Id}|${DB.Id})/json`), (r, res) => json(200, owner)(r, res));
    await start({});
    await app.close();
    app = await buildApp({
      config: parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent' }),
      resolver: { watchEvents: false, unwatchedTtlMs: 100 },
    });
    expect((await app.inject({ method: 'GET', url: '/containers/web-a/json' })).statusCode).toBe(200);
    // The name now belongs to a new container whose name still matches but which carries other labels.
    owner = { ...INSPECT({ ...DB, Name: '/web-a' }) };
    await new Promise((resolve) => setTimeout(resolve, 150));
    const response = await app.inject({ method: 'GET', url: '/containers/web-a/json' });
    expect(response.json().Id).toBe(DB.Id);
    expect(forwarded('/containers/web-a/json')).toBe(2);
  });
});

describe('SCRUB_ENVS', () => {
  it('blanks Config.Env in inspect and leaves every other field alone', async () => {
    inspectRoutes();
    await start({ SCRUB_ENVS: 'true' });
    const response = await app.inject({ method: 'GET', url: '/containers/web-a/json' });
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('hunter2');
    const expected = INSPECT(WEB);
    expected.Config.Env = [];
    expect(response.json()).toEqual(expected);
    expect(response.headers['content-length']).toBe(String(Buffer.byteLength(response.body)));
  });

  it('leaves Env alone when off', async () => {
    inspectRoutes();
    await start();
    const response = await app.inject({ method: 'GET', url: '/containers/web-a/json' });
    expect(response.json().Config.Env).toEqual(['SECRET=hunter2', 'PATH=/bin']);
  });
});

describe('pass-through', () => {
  it('returns HEAD /_ping headers with no body', async () => {
    upstream.on('HEAD', '/_ping', (_r, res) => {
      res.writeHead(200, { ...DAEMON_HEADERS, 'content-length': '0', 'cache-control': 'no-cache, no-store, must-revalidate', swarm: 'inactive' });
      res.end();
    });
    await start();
    const response = await app.inject({ method: 'HEAD', url: '/_ping' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('');
    expect(response.headers).toMatchObject({ 'api-version': '1.41', ostype: 'linux', 'docker-experimental': 'false', swarm: 'inactive' });
  });

  it('forwards method, path, query, body and end-to-end headers, and drops hop-by-hop ones', async () => {
    upstream.on('POST', '/v1.41/images/load', (r, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes', 'keep-alive': 'timeout=5' });
      res.end(JSON.stringify({ size: r.body.length }));
    });
    await start();
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const response = await app.inject({
      method: 'POST',
      url: '/v1.41/images/load?quiet=1',
      headers: { authorization: 'Bearer t', 'content-type': 'application/x-tar', 'x-drop': '1', connection: 'x-drop' },
      payload: body,
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ size: body.length });
    expect(response.headers['x-upstream']).toBe('yes');
    expect(response.headers['keep-alive']).toBeUndefined();
    const seen = upstream.requests[0]!;
    expect(seen.url).toBe('/v1.41/images/load?quiet=1');
    expect(seen.headers.authorization).toBe('Bearer t');
    expect(seen.headers['content-type']).toBe('application/x-tar');
    expect(seen.headers['x-drop']).toBeUndefined();
  });

  it.each([403, 404, 500])('passes the upstream %i through unchanged', async (status) => {
    upstream.on('GET', '/v1.41/networks', (_r, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`status ${status}\n`);
    });
    await start();
    const response = await app.inject({ method: 'GET', url: '/v1.41/networks' });
    expect(response.statusCode).toBe(status);
    expect(response.body).toBe(`status ${status}\n`);
  });

  it('forwards the path it judged: dot segments and duplicate slashes are cleaned', async () => {
    upstream.on('GET', '/v1.41/version', json(200, { Version: '20.10.24' }));
    await start();
    const response = await app.inject({ method: 'GET', url: '/v1.41/x/..//version' });
    expect(response.statusCode).toBe(200);
    expect(upstream.requests[0]!.url).toBe('/v1.41/version');
  });

  it('keeps the path prefix of PROXY_URL', async () => {
    upstream.on('GET', '/docker/v1.41/version', json(200, { Version: '20.10.24' }));
    upstream.on('GET', '/docker/containers/web-a/json', json(200, INSPECT(WEB)));
    upstream.on('GET', `/docker/containers/${WEB.Id}/json`, json(200, INSPECT(WEB)));
    await start({ PROXY_URL: `${upstream.url}/docker/` });
    expect((await app.inject({ method: 'GET', url: '/v1.41/version' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/containers/web-a/json' })).statusCode).toBe(200);
    expect(upstream.requests.map((r) => r.url)).toEqual([
      '/docker/v1.41/version',
      '/docker/containers/web-a/json',
      `/docker/containers/${WEB.Id}/json`,
    ]);
  });
});
