// Profiles through the app, against a scripted upstream on loopback: each client is judged by its own profile,
// and by nothing else.
import { createHash } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Agent, request as undiciRequest } from 'undici';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { parseConfigFile, resolveTokens } from '../../src/config/file.js';
import { fileProfileSet, type ProfileSet } from '../../src/policy/profiles.js';
import { startListeners, type RunningListener } from '../../src/edge/listeners.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const ID = (n: number): string => n.toString(16).padStart(64, '0');
interface Fake {
  Id: string;
  Name: string;
  Labels: Record<string, string>;
}
const HOME: Fake = { Id: ID(1), Name: '/home-app', Labels: { 'homepage.group': 'Media' } };
const EDGE: Fake = { Id: ID(2), Name: '/edge-app', Labels: { 'traefik.enable': 'true' } };
const HIDDEN: Fake = { Id: ID(3), Name: '/db-hidden', Labels: {} };
const SCENE = [HOME, EDGE, HIDDEN];

const TOKENS = { home: 'home-token-123', edge: 'edge-token-456', audit: 'audit-token-789' };
const sha = (token: string): string => createHash('sha256').update(token).digest('hex');

function configText(extra = ''): string {
  return `
clients:
  - token_sha256: ${sha(TOKENS.home)}
    profile: homepage
  - token_env: EDGE_TOKEN
    profile: traefik
  - token_sha256: ${sha(TOKENS.audit)}
    profile: auditor
default: deny
profiles:
  homepage: { labels: [homepage.group], scrub_envs: true, access: read }
  traefik: { labels: [traefik.enable=true], access: { actions: [restart] } }
  auditor: { labels: [homepage.group], mode: audit, access: read }
${extra}`;
}

function profileSet(text: string): ProfileSet {
  const file = parseConfigFile(text, 'sieve.yaml');
  return fileProfileSet(file, resolveTokens(file.clients, { readFile: () => '', env: { EDGE_TOKEN: TOKENS.edge } }));
}

let upstream: FakeUpstream;
let app: FastifyInstance | undefined;
let lines: Array<Record<string, unknown>> = [];

async function start(profiles: ProfileSet, env: Env = {}): Promise<FastifyInstance> {
  const logged: Array<Record<string, unknown>> = [];
  lines = logged;
  app = await buildApp({
    config: parseConfig({ PROXY_URL: upstream.url, ...env }),
    profiles,
    resolver: { watchEvents: false },
    logger: {
      level: 'info',
      stream: new Writable({
        write(chunk, _encoding, done) {
          logged.push(JSON.parse(String(chunk)) as Record<string, unknown>);
          done();
        },
      }),
    },
  });
  return app;
}

function scene(list: readonly Fake[] = SCENE): void {
  upstream.on('GET', /\/containers\/json$/, json(200, list.map((c) => ({ Id: c.Id, Names: [c.Name], Labels: c.Labels, State: 'running' }))));
  for (const c of list) {
    const inspect = { Id: c.Id, Name: c.Name, Config: { Env: ['SECRET=hunter2'], Labels: c.Labels } };
    for (const ref of [c.Id, c.Name.slice(1)]) upstream.on('GET', new RegExp(`/containers/${ref}/json$`), json(200, inspect));
  }
  upstream.on('POST', /./, (_request, response) => {
    response.writeHead(204);
    response.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const names = (body: string): string[] => (JSON.parse(body) as Array<{ Names: string[] }>).map((c) => c.Names[0]!).sort();

beforeEach(async () => {
  upstream = await startFakeUpstream();
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await upstream.close();
});

describe('who is the client', () => {
  it('two tokens, two views; Basic auth with the token as the password works as Bearer does', async () => {
    scene();
    const sieve = await start(profileSet(configText()));
    const home = await sieve.inject({ url: '/containers/json', headers: bearer(TOKENS.home) });
    const edge = await sieve.inject({ url: '/containers/json', headers: { authorization: `Basic ${Buffer.from(`any:${TOKENS.edge}`).toString('base64')}` } });
    expect(names(home.body)).toEqual(['/home-app']);
    expect(names(edge.body)).toEqual(['/edge-app']);
    expect(lines.filter((l) => l.msg === 'request').map((l) => [l.profile, l.client])).toEqual([
      ['homepage', 'token:homepage'],
      ['traefik', 'token:traefik'],
    ]);
  });

  it("each gets No such container for the other's container", async () => {
    scene();
    const sieve = await start(profileSet(configText()));
    const response = await sieve.inject({ url: '/containers/edge-app/json', headers: bearer(TOKENS.home) });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'No such container: edge-app' });
    const own = await sieve.inject({ url: '/containers/home-app/json', headers: bearer(TOKENS.home) });
    expect(own.json().Config.Env).toEqual([]);
  });

  it('a credential that matches no client is a 401, never the default profile; none at all with default deny is a 403', async () => {
    scene();
    const sieve = await start(profileSet(configText().replace('default: deny', 'default: traefik')));
    for (const authorization of ['Bearer wrong', 'Basic !!!', 'Token x']) {
      const response = await sieve.inject({ url: '/containers/json', headers: { authorization } });
      expect(response.statusCode).toBe(401);
      expect(response.json().message).toBe('docker-sieve: the credential presented matches no client');
    }
    expect(names((await sieve.inject({ url: '/containers/json' })).body)).toEqual(['/edge-app']);
    await app!.close();
    const denying = await start(profileSet(configText()));
    const denied = await denying.inject({ url: '/containers/json' });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toMatch(/default is deny/);
    expect(upstream.requests.filter((r) => r.url.endsWith('/containers/json'))).toHaveLength(1);
  });

  it('the Authorization header that identified a client never goes upstream, and is never logged', async () => {
    scene();
    const sieve = await start(profileSet(configText()));
    await sieve.inject({ url: '/containers/home-app/logs', headers: bearer(TOKENS.home) });
    await sieve.inject({ url: '/containers/json', headers: bearer(TOKENS.home) });
    expect(upstream.requests.length).toBeGreaterThan(0);
    for (const request of upstream.requests) expect(request.headers.authorization).toBeUndefined();
    expect(JSON.stringify(lines)).not.toContain(TOKENS.home);
  });

  it('a unix-socket listener with a profile decides alone', async () => {
    scene();
    const dir = mkdtempSync(join(tmpdir(), 'sieve-profiles-'));
    const file = parseConfigFile(`${configText()}listeners:\n  - socket: ${dir}/traefik.sock\n    profile: traefik\n`, 'sieve.yaml');
    const sieve = await start(fileProfileSet(file, resolveTokens(file.clients, { readFile: () => '', env: { EDGE_TOKEN: TOKENS.edge } })));
    await sieve.ready();
    const config = parseConfig({ PROXY_URL: upstream.url });
    const listeners: RunningListener[] = await startListeners(sieve, file.listeners!, sieve.attachUpgrades, config, sieve.log as never);
    try {
      const dispatcher = new Agent({ connect: { socketPath: `${dir}/traefik.sock` } });
      const response = await undiciRequest('http://localhost/containers/json', { dispatcher, headers: bearer(TOKENS.home) });
      expect(names(await response.body.text())).toEqual(['/edge-app']);
      expect(lines.find((l) => l.msg === 'request')).toMatchObject({ profile: 'traefik', client: 'listener:traefik' });
      expect(statSync(`${dir}/traefik.sock`).mode & 0o777).toBe(0o660);
    } finally {
      await Promise.all(listeners.map((listener) => listener.close(0)));
    }
  });
});

describe('what a profile may do', () => {
  it('access read: every write, exec and attach is a 403 naming the profile, nothing forwarded', async () => {
    scene();
    const sieve = await start(profileSet(configText()));
    for (const [method, url] of [
      ['POST', '/containers/home-app/restart'],
      ['POST', '/containers/home-app/exec'],
      ['POST', '/containers/home-app/attach'],
      ['DELETE', '/containers/home-app'],
      ['POST', '/containers/create'],
    ] as const) {
      const response = await sieve.inject({ method, url, headers: bearer(TOKENS.home) });
      expect(response.statusCode).toBe(403);
      expect(response.json().message).toMatch(/^docker-sieve: profile "homepage"/);
    }
    expect(upstream.requests).toEqual([]);
  });

  it('actions [restart]: restart of a visible container works, of a hidden one is a 404, stop is a 403', async () => {
    scene();
    const sieve = await start(profileSet(configText()));
    expect((await sieve.inject({ method: 'POST', url: '/containers/edge-app/restart', headers: bearer(TOKENS.edge) })).statusCode).toBe(204);
    expect((await sieve.inject({ method: 'POST', url: '/containers/db-hidden/restart', headers: bearer(TOKENS.edge) })).statusCode).toBe(404);
    const stop = await sieve.inject({ method: 'POST', url: '/containers/edge-app/stop', headers: bearer(TOKENS.edge) });
    expect(stop.statusCode).toBe(403);
    expect(stop.json().message).toContain('may not stop containers (allowed: restart)');
    expect(upstream.requests.filter((r) => r.method === 'POST').map((r) => r.url)).toEqual([`/containers/${EDGE.Id}/restart`]);
  });

  it('mode audit: nothing is hidden or refused, and the log says would-hide and would-refuse', async () => {
    scene();
    const sieve = await start(profileSet(configText()));
    const list = await sieve.inject({ url: '/containers/json', headers: bearer(TOKENS.audit) });
    expect(names(list.body)).toEqual(['/db-hidden', '/edge-app', '/home-app']);
    const inspect = await sieve.inject({ url: '/containers/db-hidden/json', headers: bearer(TOKENS.audit) });
    expect(inspect.statusCode).toBe(200);
    const restart = await sieve.inject({ method: 'POST', url: '/containers/home-app/restart', headers: bearer(TOKENS.audit) });
    expect(restart.statusCode).toBe(204);
    const visible = await sieve.inject({ url: '/containers/home-app/json', headers: bearer(TOKENS.audit) });
    expect(visible.statusCode).toBe(200);
    // Refused first, before any container is judged: that is what enforce would have said.
    const both = await sieve.inject({ method: 'POST', url: '/containers/db-hidden/restart', headers: bearer(TOKENS.audit) });
    expect(both.statusCode).toBe(204);
    expect(lines.filter((l) => l.msg === 'request').map((l) => l.decision)).toEqual(['would-hide', 'would-hide', 'would-refuse', 'passed', 'would-refuse']);
  });
});

describe('one resolver cache for every profile', () => {
  it('one upstream inspect per container, however many profiles ask', async () => {
    scene();
    const sieve = await start(profileSet(configText()));
    for (const token of [TOKENS.home, TOKENS.edge, TOKENS.audit, TOKENS.home]) {
      await sieve.inject({ url: '/containers/home-app/logs', headers: bearer(token) });
    }
    expect(upstream.requests.filter((r) => r.url === '/containers/home-app/json')).toHaveLength(1);
  });
});

describe('reload', () => {
  it('a swapped set is in force at once; a long-lived answer of a changed profile is cut, others are not', async () => {
    scene();
    upstream.on('GET', '/events', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('');
    });
    const sieve = await start(profileSet(configText()));
    await sieve.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(sieve.server.address() as { port: number }).port}`;
    const edgeEvents = await undiciRequest(`${base}/events`, { headers: bearer(TOKENS.edge) });
    const homeEvents = await undiciRequest(`${base}/events`, { headers: bearer(TOKENS.home) });
    const edgeDone = edgeEvents.body.text().then(() => 'ended', () => 'cut');
    const homeDone = homeEvents.body.text().then(() => 'ended', () => 'cut');
    const cut = sieve.swapProfiles(profileSet(configText().replace('traefik.enable=true', 'homepage.group')));
    expect(cut).toBe(1);
    expect(await edgeDone).toBe('cut');
    expect(names((await sieve.inject({ url: '/containers/json', headers: bearer(TOKENS.edge) })).body)).toEqual(['/home-app']);
    const still = await Promise.race([homeDone, new Promise((resolve) => setTimeout(() => resolve('open'), 200))]);
    expect(still).toBe('open');
    homeEvents.body.destroy();
  });
});

describe('each profile behaves as a single-profile docker-sieve with its environment', () => {
  const word = fc.constantFrom('web', 'db', 'media', 'app', 'x');
  const container = fc.record({ name: fc.tuple(word, word).map(([a, b]) => `/${a}-${b}`), labels: fc.dictionary(fc.constantFrom('homepage.group', 'tier', 'traefik.enable'), word, { maxKeys: 2 }) });
  const rules = fc.record({ names: fc.uniqueArray(word, { maxLength: 2 }), labels: fc.uniqueArray(fc.constantFrom('homepage.group', 'tier=db', 'traefik.enable=x', 'tier'), { maxLength: 2 }), scrub: fc.boolean() });

  it('for the list, an inspect of each container and a restart', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(container, { minLength: 1, maxLength: 5, selector: (c) => c.name }), fc.array(rules, { minLength: 1, maxLength: 3 }), async (containers, profiles) => {
        await upstream.close();
        upstream = await startFakeUpstream();
        const list = containers.map((c, i) => ({ Id: ID(i + 10), Name: c.name, Labels: c.labels }));
        scene(list);
        const yaml = [
          'clients:',
          ...profiles.flatMap((_p, i) => [`  - token_sha256: ${sha(`token-${i}`)}`, `    profile: p${i}`]),
          'profiles:',
          ...profiles.map((p, i) => `  p${i}: { names: ${JSON.stringify(p.names)}, labels: ${JSON.stringify(p.labels)}, scrub_envs: ${p.scrub} }`),
        ].join('\n');
        const many = await start(profileSet(yaml));
        const answers = async (sieve: FastifyInstance, headers: Record<string, string>): Promise<string[]> => {
          const out = [(await sieve.inject({ url: '/containers/json', headers })).body];
          for (const c of list) {
            const inspect = await sieve.inject({ url: `/containers/${c.Name.slice(1)}/json`, headers });
            const restart = await sieve.inject({ method: 'POST', url: `/containers/${c.Id}/restart`, headers });
            out.push(`${inspect.statusCode} ${inspect.body}`, `${restart.statusCode} ${restart.body}`);
          }
          return out;
        };
        const seen = await Promise.all(profiles.map((_p, i) => answers(many, bearer(`token-${i}`))));
        await many.close();
        for (const [i, p] of profiles.entries()) {
          const single = await start(undefined as never, { CONTAINER_NAMES: p.names.join(','), CONTAINER_LABELS: p.labels.join(','), SCRUB_ENVS: String(p.scrub) });
          expect(await answers(single, {})).toEqual(seen[i]);
          await single.close();
        }
        app = undefined;
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});

describe('ALLOW_FROM and a unix-socket listener', () => {
  it("applies to TCP clients only: a socket's clients have no address, the file's mode decides", async () => {
    scene();
    const dir = mkdtempSync(join(tmpdir(), 'sieve-allow-'));
    const file = parseConfigFile(`${configText()}listeners:\n  - socket: ${dir}/traefik.sock\n    profile: traefik\n`, 'sieve.yaml');
    const sieve = await start(fileProfileSet(file, resolveTokens(file.clients, { readFile: () => '', env: { EDGE_TOKEN: TOKENS.edge } })), { ALLOW_FROM: '192.0.2.1' });
    await sieve.ready();
    const listeners = await startListeners(sieve, file.listeners!, sieve.attachUpgrades, parseConfig({ PROXY_URL: upstream.url }), sieve.log as never);
    try {
      const dispatcher = new Agent({ connect: { socketPath: `${dir}/traefik.sock` } });
      const onSocket = await undiciRequest('http://localhost/containers/json', { dispatcher });
      expect(names(await onSocket.body.text())).toEqual(['/edge-app']);
      await sieve.listen({ port: 0, host: '127.0.0.1' });
      const onTcp = await undiciRequest(`http://127.0.0.1:${(sieve.server.address() as { port: number }).port}/containers/json`, { headers: bearer(TOKENS.edge) });
      expect(onTcp.statusCode).toBe(403);
      await onTcp.body.dump();
    } finally {
      await Promise.all(listeners.map((listener) => listener.close(0)));
    }
  });
});
