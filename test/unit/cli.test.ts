// The command line: flags, precedence, --help/--version, healthcheck, preview's pure parts; and metrics.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { parseInvocation, UsageError, usage, withFlags } from '../../src/cli/args.js';
import { formatTable, previewRows, previewWarnings } from '../../src/cli/preview.js';
import { healthcheckUrl } from '../../src/cli/healthcheck.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { parseConfig, SETTINGS } from '../../src/config.js';
import { buildApp } from '../../src/app.js';
import { freePort } from '../support/free-port.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const ENTRY = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const list = JSON.parse(readFileSync(new URL('../../fixtures/containers-list.v1.41.json', import.meta.url), 'utf8'));

function run(args: string[], env: Record<string, string>, cwd = mkdtempSync(join(tmpdir(), 'sieve-cli-'))) {
  const child = spawn(process.execPath, [ENTRY, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, output: () => stdout };
}

describe('parseInvocation', () => {
  it.each([
    [[], { command: 'serve', flags: {}, json: false }],
    [['serve', '--port', '1234'], { command: 'serve', flags: { PORT: '1234' } }],
    [['--proxy-url', 'unix:///x.sock', '--container-names=web,db'], { command: 'serve', flags: { PROXY_URL: 'unix:///x.sock', CONTAINER_NAMES: 'web,db' } }],
    [['preview', '--json'], { command: 'preview', json: true }],
    [['healthcheck', '--tls-cert', '/c.pem'], { command: 'healthcheck', flags: { TLS_CERT: '/c.pem' } }],
    [['--help'], { command: 'help' }],
    [['-h'], { command: 'help' }],
    [['preview', '--version'], { command: 'version' }],
  ])('%j', (argv, expected) => {
    expect(parseInvocation(argv)).toMatchObject(expected);
  });

  it.each([
    [['launch'], 'unknown command "launch"'],
    [['--nope'], "Unknown option '--nope'"],
    [['preview', 'extra'], 'unexpected argument "extra"'],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseInvocation(argv)).toThrow(UsageError);
    expect(() => parseInvocation(argv)).toThrow(message);
  });

  it('has a flag for every setting, and --help lists them all', () => {
    const text = usage('1.2.3');
    for (const setting of SETTINGS) {
      expect(parseInvocation([`--${setting.flag}`, 'x']).flags).toEqual({ [setting.variable]: 'x' });
      expect(text).toContain(`--${setting.flag}`);
    }
  });

  it('lets a flag win over the environment', () => {
    expect(withFlags({ PORT: '1', PROXY_URL: 'http://a:1' }, { PORT: '2' })).toEqual({ PORT: '2', PROXY_URL: 'http://a:1' });
  });
});

describe('healthcheckUrl', () => {
  it.each([
    [{}, 'http://127.0.0.1:2375/_ping'],
    [{ LISTEN_ADDRESS: '::1', PORT: '1234' }, 'http://[::1]:1234/_ping'],
    [{ TLS_CERT: '/c', TLS_KEY: '/k' }, 'https://127.0.0.1:2375/_ping'],
    [{ TLS_CERT: '/c', TLS_KEY: '/k', TLS_CA: '/ca' }, 'https://127.0.0.1:2375/_ping'],
    [{ TLS_CERT: '/c', TLS_KEY: '/k', TLS_CA: '/ca', METRICS_PORT: '9100' }, 'http://127.0.0.1:9100/healthz'],
  ])('%j → %s', (env, url) => {
    expect(healthcheckUrl(parseConfig({ PROXY_URL: 'http://x:1', ...env }))).toBe(url);
  });
});

describe('preview, pure parts', () => {
  const config = (names: string, labels = '') => parseConfig({ PROXY_URL: 'http://x:1', CONTAINER_NAMES: names, CONTAINER_LABELS: labels });

  it('says visible or hidden and which rule matched, for each container', () => {
    const c = config('web', 'homepage.group=Media');
    const rows = previewRows(list, compilePolicy({ names: c.containerNames, labels: c.containerLabels }));
    expect(rows.map((r) => [r.name, r.visible, r.reason])).toEqual([
      ['r3-link', false, 'no name or label rule matches'],
      ['job-exited', false, 'no name or label rule matches'],
      ['db-hidden', false, 'no name or label rule matches'],
      ['web-b', true, 'name contains "web"'],
      ['web-a', true, 'name contains "web"'],
    ]);
    const labelOnly = config('', 'homepage.group=Media');
    const byLabel = previewRows(list, compilePolicy({ names: labelOnly.containerNames, labels: labelOnly.containerLabels }));
    expect(byLabel.find((r) => r.name === 'web-a')!.reason).toBe('label homepage.group=Media matches "homepage.group=Media"');
    const table = formatTable(rows);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+ID\s+STATE\s+VISIBLE\s+WHY$/);
    expect(table).toMatch(/web-a\s+[0-9a-f]{12}\s+running\s+visible\s+name contains "web"/);
  });

  it.each([
    [{ CONTAINER_NAME: 'web' }, 'web', '', /CONTAINER_NAME is set, but docker-sieve reads CONTAINER_NAMES/],
    [{ CONTAINER_NAMES: 'web,' }, 'web', '', /CONTAINER_NAMES has an empty item \("web,"\)/],
    [{}, '-', '', /CONTAINER_NAMES value "-" matches every container/],
    [{}, '', 'com.example.visible', /CONTAINER_LABELS rule "com.example.visible" matches every container/],
    [{}, '', '', /every container is visible/],
  ])('warns about %j', (env, names, labels, warning) => {
    const warnings = previewWarnings(env, list, config(names, labels));
    expect(warnings.some((w) => warning.test(w))).toBe(true);
  });

  it('does not warn about a sound configuration', () => {
    expect(previewWarnings({ CONTAINER_NAMES: 'web' }, list, config('web'))).toEqual([]);
  });
});

describe('the docker-sieve command', () => {
  let upstream: FakeUpstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  it('--help and --version exit 0', async () => {
    const help = await run(['--help'], {}).done;
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('docker-sieve preview');
    const version = await run(['--version'], {}).done;
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
  });

  it('an unknown flag exits 1 with the usage', async () => {
    const result = await run(['--bogus'], {}).done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Unknown option '--bogus'");
    expect(result.stderr).toContain('Usage:');
  });

  it('a flag wins over the environment, which wins over .env; healthcheck is 0 while it serves and 1 after', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/_ping', json(200, 'OK'));
    const [flagPort, envPort, filePort] = [await freePort(), await freePort(), await freePort()];
    const cwd = mkdtempSync(join(tmpdir(), 'sieve-cli-'));
    writeFileSync(join(cwd, '.env'), `PORT=${filePort}\nPROXY_URL=${upstream.url}\nLOG_LEVEL=silent\n`);
    const server = run(['--port', String(flagPort), '--listen-address', '127.0.0.1'], { PORT: String(envPort) }, cwd);
    const deadline = Date.now() + 10_000;
    let health = await run(['healthcheck', '--port', String(flagPort)], { PROXY_URL: upstream.url }).done;
    while (health.code !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      health = await run(['healthcheck', '--port', String(flagPort)], { PROXY_URL: upstream.url }).done;
    }
    expect(health.code).toBe(0);
    const onEnvPort = await run(['healthcheck', '--port', String(envPort)], { PROXY_URL: upstream.url }).done;
    expect(onEnvPort.code).toBe(1);
    expect(onEnvPort.stderr).toMatch(/docker-sieve healthcheck: /);
    server.child.kill('SIGTERM');
    expect((await server.done).code).toBe(0);
    const after = await run(['healthcheck', '--port', String(flagPort)], { PROXY_URL: upstream.url }).done;
    expect(after.code).toBe(1);
  });

  it('preview prints JSON when asked (or when not on a terminal)', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/containers/json', json(200, list));
    const result = await run(['preview', '--json'], { PROXY_URL: upstream.url, CONTAINER_NAMES: 'web' }).done;
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { containers: Array<{ name: string; visible: boolean }>; warnings: string[] };
    expect(parsed.containers.filter((c) => c.visible).map((c) => c.name)).toEqual(['web-b', 'web-a']);
    expect(parsed.warnings).toEqual([]);
    expect(upstream.requests[0]!.url).toBe('/containers/json?all=1');
  });

  it('preview exits 1 with a message when the upstream cannot be reached', async () => {
    const result = await run(['preview'], { PROXY_URL: 'http://127.0.0.1:9' }).done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot reach the upstream/);
  });
});

describe('metrics', () => {
  let app: FastifyInstance | undefined;
  let upstream: FakeUpstream | undefined;
  afterEach(async () => {
    await app?.close();
    await upstream?.close();
  });

  it('serves /metrics and /healthz on METRICS_PORT only, counting routes, decisions, lookups and hidden containers', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/containers/json', json(200, list));
    upstream.on('GET', '/containers/db-hidden/json', json(200, { Id: 'b'.repeat(64), Name: '/db-hidden', Config: { Labels: {} } }));
    const metricsPort = await freePort();
    app = await buildApp({
      config: parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent', METRICS_PORT: String(metricsPort), LISTEN_ADDRESS: '127.0.0.1' }),
      resolver: { watchEvents: false },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    await (await request(`http://127.0.0.1:${port}/containers/json?all=1`)).body.text();
    await (await request(`http://127.0.0.1:${port}/containers/db-hidden/json`)).body.text();
    await (await request(`http://127.0.0.1:${port}/containers/db-hidden/json`)).body.text();

    const metrics = await (await request(`http://127.0.0.1:${metricsPort}/metrics`)).body.text();
    expect(metrics).toContain('docker_sieve_requests_total{route="containers-list",decision="filtered",profile="default"} 1');
    expect(metrics).toContain('docker_sieve_requests_total{route="container",decision="hidden",profile="default"} 2');
    expect(metrics).toContain('docker_sieve_containers_hidden_total{route="containers-list"} 3');
    expect(metrics).toContain('docker_sieve_resolver_cache_hits_total 1');
    expect(metrics).toContain('docker_sieve_resolver_cache_misses_total 1');
    expect(metrics).toContain('docker_sieve_resolver_lookups_total 1');
    expect(metrics).toMatch(/docker_sieve_upstream_seconds_count\{kind="lookup"\} 1/);
    expect(metrics).toMatch(/docker_sieve_upstream_seconds_count\{kind="filter"\} 1/);
    const health = await request(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(health.statusCode).toBe(200);
    expect(await health.body.text()).toBe('ok\n');
    // On the API port, /metrics is not a family of the Docker API: refused while filtering, never served there.
    const onApi = await request(`http://127.0.0.1:${port}/metrics`);
    expect(onApi.statusCode).toBe(403);
    expect(await onApi.body.text()).not.toContain('docker_sieve_');
    expect(upstream.requests.map((r) => r.url)).not.toContain('/metrics');
  });
});
