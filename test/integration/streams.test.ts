// Streams on the real chain: events, logs -f, stats, docker cp, and what a client going away does upstream.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  docker,
  dockerCliEnv,
  dockerOk,
  dockerSock,
  removeContainers,
  requireIntegration,
  runContainer,
  startSieve,
  startSocketProxy,
  type RunningSieve,
  type SocketProxy,
} from './harness/index.js';

const describeIntegration = requireIntegration();
const NAMES = ['st-vis', 'st-hidden', 'st-ev-vis', 'st-ev-hidden'];

/**
 * A TCP relay between docker-sieve and the socket proxy. For each upstream connection it notes the last request
 * line sent on it and when it closed, so a test can tell when the connection that carried a stream went away.
 */
interface Probe {
  url: string;
  /** When the connection whose last request line matches `pattern` closed, or undefined while it is open. */
  closedAt(pattern: RegExp): number | undefined | null;
  close(): Promise<void>;
}

interface Traced {
  lastRequest: string;
  closedAt?: number;
}

async function startProbe(targetPort: number): Promise<Probe> {
  const sockets = new Set<Socket>();
  const traced: Traced[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const trace: Traced = { lastRequest: '' };
    traced.push(trace);
    sockets.add(client);
    client.on('data', (chunk: Buffer) => {
      const line = /^(GET|POST|HEAD|PUT|DELETE) [^\r\n]+/m.exec(chunk.toString('latin1'));
      if (line !== null) trace.lastRequest = line[0];
    });
    client.pipe(upstream).pipe(client);
    const done = () => {
      if (!sockets.delete(client)) return;
      trace.closedAt = Date.now();
      client.destroy();
      upstream.destroy();
    };
    client.on('close', done).on('error', done);
    upstream.on('close', done).on('error', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    closedAt(pattern) {
      const found = traced.filter((t) => pattern.test(t.lastRequest)).at(-1);
      return found === undefined ? null : found.closedAt;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function spawnDocker(args: string[], host: string): { child: ChildProcess; output: () => string; waitFor(text: string, ms?: number): Promise<void> } {
  const child = spawn('docker', args, { env: dockerCliEnv(host), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return {
    child,
    output: () => out,
    waitFor(text, ms = 15_000) {
      const started = Date.now();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (out.includes(text)) resolve();
          else if (Date.now() - started > ms) reject(new Error(`timed out waiting for ${JSON.stringify(text)}; got ${JSON.stringify(out)}`));
          else setTimeout(check, 50);
        };
        check();
      });
    },
  };
}

describeIntegration('streams through docker-sieve on the real chain', () => {
  let proxy: SocketProxy;
  let probe: Probe;
  let sieve: RunningSieve;

  beforeAll(async () => {
    await removeContainers(NAMES);
    await runContainer({
      name: 'st-vis',
      labels: { 'homepage.group': 'Media' },
      cmd: ['sh', '-c', 'echo first line; while [ ! -f /go ]; do sleep 0.2; done; echo written after logs -f started; exec sleep 3600'],
    });
    await runContainer({ name: 'st-hidden', labels: { tier: 'db' } });
    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1', EVENTS: '1', POST: '1' });
    probe = await startProbe(proxy.port);
    sieve = await startSieve({ PROXY_URL: probe.url, CONTAINER_NAMES: 'vis' });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await probe?.close();
    await proxy?.stop();
    await removeContainers(NAMES);
  });

  it('docker events --since --until shows only the visible container', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await runContainer({ name: 'st-ev-vis', cmd: ['true'], detach: false });
    await runContainer({ name: 'st-ev-hidden', cmd: ['true'], detach: false });
    await removeContainers(['st-ev-vis', 'st-ev-hidden']);
    const until = Math.floor(Date.now() / 1000) + 1;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const args = ['events', '--since', String(since), '--until', String(until), '--filter', 'type=container', '--format', '{{.Actor.Attributes.name}} {{.Action}}'];
    const direct = await dockerOk(args);
    expect(direct).toContain('st-ev-hidden');
    const out = await dockerOk(args, { host: sieve.host });
    const names = new Set(out.split('\n').filter(Boolean).map((line) => line.split(' ')[0]));
    expect(names.has('st-ev-vis')).toBe(true);
    expect(out).not.toContain('st-ev-hidden');
    expect(out).toMatch(/st-ev-vis destroy/);
  });

  it('docker logs -f streams a line written after it started', async () => {
    const follow = spawnDocker(['logs', '-f', 'st-vis'], sieve.host);
    try {
      await follow.waitFor('first line');
      expect(follow.output()).not.toContain('written after');
      await dockerOk(['exec', 'st-vis', 'sh', '-c', 'echo > /go']);
      await follow.waitFor('written after logs -f started');
    } finally {
      follow.child.kill('SIGKILL');
    }
  });

  it('docker logs -f of a hidden container fails at once', async () => {
    const result = await docker(['logs', '-f', 'st-hidden'], { host: sieve.host, timeoutMs: 10_000 });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('No such container: st-hidden');
  });

  it('docker stats --no-stream works for the visible container and fails for the hidden one', async () => {
    const out = await dockerOk(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', 'st-vis'], { host: sieve.host });
    expect(out).toMatch(/^st-vis \S+/);
    const hidden = await docker(['stats', '--no-stream', 'st-hidden'], { host: sieve.host, timeoutMs: 20_000 });
    expect(hidden.code).not.toBe(0);
    expect(hidden.stdout + hidden.stderr).toMatch(/No such container/);
  });

  it('docker cp moves 50 MB in and out of the visible container, and nothing for the hidden one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-cp-'));
    const source = join(dir, 'big.bin');
    const data = randomBytes(50 * 1024 * 1024);
    writeFileSync(source, data);
    await dockerOk(['cp', source, 'st-vis:/big.bin'], { host: sieve.host, timeoutMs: 120_000 });
    await dockerOk(['cp', 'st-vis:/big.bin', join(dir, 'back.bin')], { host: sieve.host, timeoutMs: 120_000 });
    const digest = (buffer: Buffer) => createHash('sha256').update(buffer).digest('hex');
    expect(digest(readFileSync(join(dir, 'back.bin')))).toBe(digest(data));
    const out = await docker(['cp', 'st-hidden:/etc/hostname', join(dir, 'h')], { host: sieve.host });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/No such container/);
    const into = await docker(['cp', source, 'st-hidden:/x'], { host: sieve.host });
    expect(into.code).not.toBe(0);
  }, 180_000);

  it.each([
    ['events', ['events'], undefined, /^GET \/v[0-9.]+\/events/],
    ['logs -f', ['logs', '-f', 'st-vis'], 'first line', /^GET \/v[0-9.]+\/containers\/[0-9a-f]{64}\/logs\?.*follow=1/],
  ])('a client leaving %s closes the upstream connection within a second', async (_title, args, firstOutput, upstreamRequest) => {
    const client = spawnDocker(args, sieve.host);
    try {
      // The stream is up: logs -f has printed; events prints nothing until an event, so wait for its connection.
      if (firstOutput !== undefined) await client.waitFor(firstOutput);
      const started = Date.now();
      while (probe.closedAt(upstreamRequest) !== undefined && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      expect(probe.closedAt(upstreamRequest)).toBeUndefined(); // open
    } finally {
      client.child.kill('SIGKILL');
    }
    const killedAt = Date.now();
    while (probe.closedAt(upstreamRequest) === undefined && Date.now() < killedAt + 1_000) await new Promise((r) => setTimeout(r, 20));
    const closedAt = probe.closedAt(upstreamRequest);
    expect(closedAt).toBeTypeOf('number');
    expect(closedAt! - killedAt).toBeLessThan(1_000);
  });
});
