// The built entry point as users run it: config errors, .env, listening, and SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { freePort } from '../support/free-port.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const ENTRY = fileURLToPath(new URL('../../dist/server.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runServer(env: Record<string, string>, cwd: string, untilListening = false): { done: Promise<Run>; kill(signal: NodeJS.Signals): void; listening: Promise<void> } {
  const child = spawn(process.execPath, [ENTRY], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onListening: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (onListening = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (untilListening && stdout.includes('Server listening')) onListening();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { done, listening, kill: (signal) => child.kill(signal) };
}

let upstream: FakeUpstream | undefined;

beforeAll(() => {
  if (!existsSync(ENTRY)) throw new Error('dist/server.js is missing: run `npm run build` first (npm test does)');
});

afterEach(async () => {
  await upstream?.close();
  upstream = undefined;
});

describe('docker-sieve process', () => {
  it.each([
    [{}, 'PROXY_URL: is required'],
    [{ PROXY_URL: 'nope' }, 'PROXY_URL: "nope" is not a URL'],
    [{ PROXY_URL: 'http://x:2375', PORT: '70000' }, 'PORT: 70000 is out of range (1-65535)'],
    [{ PROXY_URL: 'http://x:2375', SCRUB_ENVS: 'sometimes' }, 'SCRUB_ENVS: "sometimes" is not a boolean'],
  ])('bad config %j exits 1 with one line and no stack trace', async (env, message) => {
    const run = await runServer(env, mkdtempSync(join(tmpdir(), 'sieve-cwd-'))).done;
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`docker-sieve: configuration error: ${message}`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('reads .env from its working directory, listens on every interface, warns without filters, and exits 0 on SIGTERM', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/version', json(200, { Version: '20.10.24' }));
    const port = await freePort();
    const cwd = mkdtempSync(join(tmpdir(), 'sieve-cwd-'));
    writeFileSync(join(cwd, '.env'), `PROXY_URL=${upstream.url}\nPORT=1\n`);
    // The real environment wins over .env.
    const server = runServer({ PORT: String(port) }, cwd, true);
    await server.listening;
    for (const host of ['127.0.0.1', '[::1]']) {
      const response = await request(`http://${host}:${port}/version`);
      expect(response.statusCode).toBe(200);
      expect(await response.body.json()).toEqual({ Version: '20.10.24' });
    }
    server.kill('SIGTERM');
    const run = await server.done;
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('every container is visible');
    const requestLine = run.stdout.split('\n').find((line) => line.includes('"path":"/version"'));
    expect(JSON.parse(requestLine!)).toMatchObject({ method: 'GET', path: '/version', status: 200, decision: 'passed' });
  });

  it('on SIGTERM lets an in-flight request finish, cuts a stream after the grace period, and exits 0', async () => {
    upstream = await startFakeUpstream();
    upstream.on('GET', '/slow', async (r, res) => {
      await new Promise((resolve) => setTimeout(resolve, 700));
      json(200, { slow: true })(r, res);
    });
    upstream.on('GET', '/events', (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    });
    const port = await freePort();
    const server = runServer({ PROXY_URL: upstream.url, PORT: String(port), SHUTDOWN_GRACE: '2' }, mkdtempSync(join(tmpdir(), 'sieve-cwd-')), true);
    await server.listening;
    const stream = await request(`http://127.0.0.1:${port}/events`);
    const streamEnded = stream.body.text().then(
      () => 'ended',
      () => 'cut',
    );
    const slow = request(`http://127.0.0.1:${port}/slow`).then(async (r) => ({ status: r.statusCode, body: await r.body.json() }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalledAt = Date.now();
    server.kill('SIGTERM');
    expect(await slow).toEqual({ status: 200, body: { slow: true } });
    const run = await server.done;
    expect(run.code).toBe(0);
    expect(await streamEnded).toMatch(/ended|cut/);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(1500);
    expect(Date.now() - signalledAt).toBeLessThan(6000);
  });
});
