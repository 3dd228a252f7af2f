// The command line with profiles (CONFIG_FILE): hash-token, validate, preview per profile, healthcheck through a
// listener the file allows. The built dist/server.js is run as a process where the process matters (exit codes,
// stdin, a running docker-sieve), the cli modules are called directly elsewhere.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseInvocation, UsageError } from '../../src/cli/args.js';
import { healthcheckPlan } from '../../src/cli/healthcheck.js';
import { runPreview, type ProfilePreview } from '../../src/cli/preview.js';
import { runValidate, validateConfiguration } from '../../src/cli/validate.js';
import { loadSettings } from '../../src/config/load.js';
import { freePort } from '../support/free-port.js';
import { makeTestCertificates } from '../support/certs.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const ENTRY = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const list = JSON.parse(readFileSync(new URL('../../fixtures/containers-list.v1.41.json', import.meta.url), 'utf8'));

function run(args: string[], env: Record<string, string>, options: { stdin?: string; cwd?: string } = {}) {
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), 'sieve-cli-'));
  const child = spawn(process.execPath, [ENTRY, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(options.stdin ?? '');
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sieve-profiles-'));
}

function writeConfig(dir: string, text: string, name = 'sieve.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function collect() {
  const out: string[] = [];
  const errors: string[] = [];
  return { out, errors, output: { write: (t: string) => void out.push(t), writeError: (t: string) => void errors.push(t) } };
}

const TWO_PROFILES = (upstream: string) => `upstream: ${upstream}
clients:
  - from: [10.0.0.1]
    profile: ops
default: web
profiles:
  web:
    names: [web]
  ops:
    names: [db]
    access: { actions: [start, restart] }
    mode: audit
`;

describe('parseInvocation with profiles', () => {
  it.each([
    [['hash-token'], { command: 'hash-token' }],
    [['validate', '--config', '/s.yaml'], { command: 'validate', flags: { CONFIG_FILE: '/s.yaml' } }],
    [['preview', '--profile', 'homepage', '--json'], { command: 'preview', profile: 'homepage', json: true }],
  ])('%j', (argv, expected) => {
    expect(parseInvocation(argv)).toMatchObject(expected);
  });

  it.each([
    [['serve', '--profile', 'x'], '--profile is only for preview'],
    [['preview', '--profile', ' '], '--profile needs a profile name'],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseInvocation(argv)).toThrow(UsageError);
    expect(() => parseInvocation(argv)).toThrow(message);
  });
});

describe('docker-sieve hash-token', () => {
  it('prints the SHA-256 of the token on stdin, trailing newline dropped, with no PROXY_URL', async () => {
    const result = await run(['hash-token'], {}, { stdin: 'homepage-s3cret\n' }).done;
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${createHash('sha256').update('homepage-s3cret').digest('hex')}\n`);
    expect(result.stderr).toBe('');
  });

  it('exits 1 on an empty stdin', async () => {
    const result = await run(['hash-token'], {}, { stdin: '' }).done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no token on standard input');
  });
});

describe('docker-sieve validate', () => {
  it('exits 0 on a good file and sums up profiles, clients and listeners', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), 'tok\n');
    const file = writeConfig(
      dir,
      `upstream: http://127.0.0.1:1
listeners:
  - port: 2375
    address: 127.0.0.1
  - socket: ${join(dir, 'p.sock')}
    profile: ops
clients:
  - token_file: ${join(dir, 'token')}
    profile: web
  - from: [127.0.0.1]
    profile: ops
profiles:
  web: { names: [web] }
  ops: { names: [db], access: read, mode: audit }
`,
    );
    const result = await run(['validate', '--config', file], {}).done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${file}: valid`);
    expect(result.stdout).toMatch(/profiles: +2 profiles: web \(all\), ops \(read; audit\)/);
    expect(result.stdout).toMatch(/clients: +2 \(1 token, 1 from\); default: deny/);
    expect(result.stdout).toContain(`listeners: 2 listeners: tcp://127.0.0.1:2375, unix://${join(dir, 'p.sock')} → ops`);
  });

  it('exits 1 on a bad file, with each problem on its own line at FILE:LINE:COL', async () => {
    const file = writeConfig(tempDir(), 'upstream: http://127.0.0.1:1\nprofiles:\n  a:\n    acess: read\n  b:\n    mode: audits\n');
    const result = await run(['validate', '--config', file], {}).done;
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toEqual([
      `${file}:4:5: profiles.a.acess: unknown key; did you mean "access"?`,
      `${file}:6:11: profiles.b.mode: "audits" is not one of enforce, audit; did you mean "audit"?`,
      'docker-sieve validate: 2 problems',
    ]);
  });

  it('exits 1 on a clash with PROXY_URL, naming both, and still reports a token file that cannot be read', async () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      `upstream: http://127.0.0.1:1\nclients:\n  - token_file: ${join(dir, 'missing')}\n    profile: a\nprofiles:\n  a: {}\n`,
    );
    const result = await run(['validate'], { CONFIG_FILE: file, PROXY_URL: 'http://127.0.0.1:2' }).done;
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe(`${file}:1:1: upstream: PROXY_URL is set in the environment (or .env, or as a flag), and this file sets \`upstream\`: say it in one place`);
    expect(lines[1]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:5: clients\\[0\\]\\.token_file: .*missing cannot be read`));
    expect(lines[2]).toBe('docker-sieve validate: 2 problems');
  });

  it('reports unreadable TLS files of a listener', () => {
    const dir = tempDir();
    const file = writeConfig(dir, `upstream: http://127.0.0.1:1\nlisteners:\n  - port: 2376\n    tls: { cert: ${join(dir, 'c.pem')}, key: ${join(dir, 'k.pem')} }\nprofiles:\n  a: {}\ndefault: a\n`);
    const result = validateConfiguration({ CONFIG_FILE: file });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual(['3:5 listeners[0].tls.cert', '3:5 listeners[0].tls.key']);
  });

  it('without a file, checks the environment as serve does', () => {
    const bad = collect();
    expect(runValidate({}, bad.output)).toBe(1);
    expect(bad.errors[0]).toMatch(/^environment: PROXY_URL: is required/);
    const good = collect();
    expect(runValidate({ PROXY_URL: 'http://127.0.0.1:1', CONTAINER_NAMES: 'web' }, good.output)).toBe(0);
    expect(good.out.join('')).toMatch(/^environment: valid\n/);
    expect(good.out.join('')).toContain('1 profile: default (all)');
  });
});

describe('docker-sieve preview with profiles', () => {
  let upstream: FakeUpstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  async function withList(): Promise<FakeUpstream> {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/containers/json', json(200, list));
    return upstream;
  }

  it('prints one JSON section per profile, from one list request', async () => {
    const fake = await withList();
    const file = writeConfig(tempDir(), TWO_PROFILES(fake.url));
    const result = await run(['preview', '--json', '--config', file], {}).done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { profiles: ProfilePreview[] };
    expect(Object.keys(parsed)).toEqual(['profiles']);
    expect(parsed.profiles.map((p) => [p.name, p.access, p.mode])).toEqual([
      ['web', 'all', 'enforce'],
      ['ops', 'actions: restart, start', 'audit'],
    ]);
    const visible = (p: ProfilePreview) => p.containers.filter((c) => c.visible).map((c) => c.name);
    expect(visible(parsed.profiles[0]!)).toEqual(['web-b', 'web-a']);
    expect(visible(parsed.profiles[1]!)).toEqual(['db-hidden']);
    expect(parsed.profiles[1]!.containers.find((c) => c.name === 'db-hidden')!.reason).toBe('name contains "db"');
    expect(parsed.profiles.every((p) => p.warnings.length === 0)).toBe(true);
    expect(fake.requests.map((r) => r.url)).toEqual(['/containers/json?all=1']);
  });

  it('prints a table per profile under a heading with its access and mode, on a terminal', async () => {
    const fake = await withList();
    const settings = loadSettings({ CONFIG_FILE: writeConfig(tempDir(), TWO_PROFILES(fake.url)) });
    const { out, errors, output } = collect();
    expect(await runPreview(settings, {}, { json: false }, { ...output, isTTY: true })).toBe(0);
    const text = out.join('');
    const [web, ops] = text.split(/\n(?=profile )/);
    expect(web).toMatch(/^profile web: access all; mode enforce\nNAME\s+ID\s+STATE\s+VISIBLE\s+WHY\n/);
    expect(web).toMatch(/web-a\s+[0-9a-f]{12}\s+running\s+visible\s+name contains "web"/);
    expect(web).toMatch(/db-hidden\s+[0-9a-f]{12}\s+\S+\s+hidden/);
    expect(web).toContain('2 visible, 3 hidden');
    expect(ops).toMatch(/^profile ops: access actions: restart, start; mode audit/);
    expect(ops).toMatch(/db-hidden\s+[0-9a-f]{12}\s+\S+\s+visible\s+name contains "db"/);
    expect(ops).toMatch(/web-a\s+[0-9a-f]{12}\s+running\s+hidden/);
    expect(ops).toContain('1 visible, 4 hidden');
    expect(errors).toEqual([]);
  });

  it('--profile shows only that profile; an unknown one exits 1 and lists the names', async () => {
    const fake = await withList();
    const file = writeConfig(tempDir(), TWO_PROFILES(fake.url));
    const one = await run(['preview', '--profile', 'ops', '--config', file], {}).done;
    expect(one.code).toBe(0);
    const parsed = JSON.parse(one.stdout) as { profiles: ProfilePreview[] };
    expect(parsed.profiles.map((p) => p.name)).toEqual(['ops']);
    const unknown = await run(['preview', '--profile', 'opps', '--config', file], {}).done;
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('docker-sieve preview: no profile "opps" (did you mean "ops"?); the profiles are: web, ops\n');
    expect(fake.requests).toHaveLength(1);
  });

  it('warns about a profile nothing gives, or one that shows everything', async () => {
    const fake = await withList();
    const file = writeConfig(tempDir(), `upstream: ${fake.url}\ndefault: a\nprofiles:\n  a: { names: [web] }\n  b: {}\n`);
    const { out, errors, output } = collect();
    expect(await runPreview(loadSettings({ CONFIG_FILE: file }), {}, { json: false }, { ...output, isTTY: true })).toBe(0);
    expect(out.join('')).toContain('profile b: access all; mode enforce');
    expect(errors).toEqual([
      'warning: profile b: no client, listener or default gives this profile: no request is judged by it\n',
      'warning: profile b: sets neither names nor labels: every container is visible\n',
    ]);
  });

  it('without a config file keeps the old JSON shape, and --profile default gives the sectioned one', async () => {
    const fake = await withList();
    const env = { PROXY_URL: fake.url, CONTAINER_NAMES: 'web' };
    const plain = collect();
    expect(await runPreview(loadSettings(env), env, { json: true }, { ...plain.output, isTTY: false })).toBe(0);
    expect(Object.keys(JSON.parse(plain.out.join('')))).toEqual(['containers', 'warnings']);
    const sectioned = collect();
    expect(await runPreview(loadSettings(env), env, { json: true, profile: 'default' }, { ...sectioned.output, isTTY: false })).toBe(0);
    const parsed = JSON.parse(sectioned.out.join('')) as { profiles: ProfilePreview[] };
    expect(parsed.profiles.map((p) => [p.name, p.access, p.mode, p.containers.filter((c) => c.visible).length])).toEqual([['default', 'all', 'enforce', 2]]);
  });
});

describe('healthcheckPlan with a config file', () => {
  const base = 'upstream: http://127.0.0.1:1\nprofiles:\n  web: { names: [web] }\n';
  const plan = (text: string, env: Record<string, string> = {}) => healthcheckPlan(loadSettings({ ...env, CONFIG_FILE: writeConfig(tempDir(), text) }));

  it('uses /healthz on METRICS_PORT first', () => {
    expect(plan(`${base}listeners:\n  - port: 2375\n`, { METRICS_PORT: '9100' })).toMatchObject({ kind: 'check', url: 'http://127.0.0.1:9100/healthz' });
  });

  it('skips a listener the default would deny for one with a profile', () => {
    const text = `${base}listeners:\n  - port: 2375\n  - port: 2376\n    address: 127.0.0.2\n    profile: web\n  - socket: /run/s.sock\n    profile: web\n`;
    expect(plan(text)).toMatchObject({ kind: 'check', url: 'http://127.0.0.2:2376/_ping' });
  });

  it('takes a unix socket listener, or a listener whose `from` client or default lets loopback in', () => {
    expect(plan(`${base}listeners:\n  - port: 2375\n  - socket: /run/s.sock\n    profile: web\n`)).toMatchObject({
      kind: 'check',
      url: 'http://localhost/_ping',
      socketPath: '/run/s.sock',
    });
    expect(plan(`${base}clients:\n  - from: [127.0.0.0/8]\n    profile: web\nlisteners:\n  - port: 2375\n`)).toMatchObject({ url: 'http://127.0.0.1:2375/_ping' });
    expect(plan(`${base}default: web\n`, { PORT: '2399' })).toMatchObject({ url: 'http://127.0.0.1:2399/_ping' });
  });

  it('fails with what to do when every listener would refuse it', () => {
    const result = plan(`${base}clients:\n  - token_sha256: ${'a'.repeat(64)}\n    profile: web\nlisteners:\n  - port: 2375\n`);
    expect(result.kind).toBe('refused');
    expect(result.kind === 'refused' && result.message).toMatch(/tcp:\/\/\*:2375 would deny it .*set METRICS_PORT .*give a listener a `profile`/);
  });

  it('on an mTLS listener presents its own certificate, which a certificate client may know', () => {
    const certs = makeTestCertificates('sieve');
    const tls = `tls: { cert: ${certs.serverCert}, key: ${certs.serverKey}, ca: ${certs.ca} }`;
    const text = `${base}clients:\n  - certificate: { cn: sieve }\n    profile: web\nlisteners:\n  - port: 2376\n    ${tls}\n`;
    expect(plan(text)).toMatchObject({ kind: 'check', url: 'https://127.0.0.1:2376/_ping', clientCertificate: { cert: certs.serverCert, key: certs.serverKey } });
    expect(plan(text.replace('cn: sieve', 'cn: someone-else')).kind).toBe('refused');
  });
});

describe('docker-sieve healthcheck with a config file', () => {
  let upstream: FakeUpstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  it('is 0 through a listener with a profile or METRICS_PORT when the default is deny, and says what to do otherwise', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/_ping', json(200, 'OK'));
    const dir = tempDir();
    const [port, metricsPort] = [await freePort(), await freePort()];
    const socket = join(dir, 'web.sock');
    const served = writeConfig(
      dir,
      `upstream: ${upstream.url}\nlisteners:\n  - port: ${port}\n    address: 127.0.0.1\n  - socket: ${socket}\n    profile: web\nprofiles:\n  web: { names: [web] }\n`,
    );
    const server = run(['--config', served], { LOG_LEVEL: 'silent', METRICS_PORT: String(metricsPort) });
    try {
      const deadline = Date.now() + 10_000;
      let health = await run(['healthcheck', '--config', served], {}).done;
      while (health.code !== 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        health = await run(['healthcheck', '--config', served], {}).done;
      }
      expect(health.code).toBe(0);
      expect(upstream.requests.map((r) => r.url)).toContain('/_ping');
      const metrics = await run(['healthcheck', '--config', served, '--metrics-port', String(metricsPort)], {}).done;
      expect(metrics.code).toBe(0);
      // Only the deny listener: nothing to check through.
      const denyOnly = writeConfig(dir, `upstream: ${upstream.url}\nlisteners:\n  - port: ${port}\n    address: 127.0.0.1\nprofiles:\n  web: {}\n`, 'deny.yaml');
      const refused = await run(['healthcheck', '--config', denyOnly], {}).done;
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^docker-sieve healthcheck: no listener would let the healthcheck through .*set METRICS_PORT/);
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
    }
  });
});
