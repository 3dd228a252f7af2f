// exec and attach (HTTP upgrade) on the real daemon: docker CLI and dockerode → docker-sieve → dockerd.
// docker-sieve points straight at the daemon's socket here: HAProxy 2.6 does not pass upgrades.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { request } from 'undici';
import {
  docker,
  dockerSock,
  engineRequest,
  removeContainers,
  requireIntegration,
  runContainer,
  startSieve,
  type RunningSieve,
} from './harness/index.js';

const describeIntegration = requireIntegration();
const NAMES = ['hj-vis', 'hj-vis-ticker', 'hj-hidden'];

interface RawAnswer {
  head: string;
  body: Buffer;
}

/** One request on a fresh connection; reads until the other side closes (or `ms` pass, then cuts it). */
function rawExchange(target: { port?: number; path?: string }, bytes: string, ms = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = target.path !== undefined ? connect({ path: target.path }) : connect({ port: target.port!, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      resolve({ head: all.subarray(0, end + 4).toString('latin1'), body: all.subarray(end + 4) });
    });
    socket.write(bytes);
  });
}

function execStart(path: string, body: object): string {
  const json = JSON.stringify(body);
  return [
    `POST ${path} HTTP/1.1`,
    'Host: docker',
    'User-Agent: hijack-test',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Connection: Upgrade',
    'Upgrade: tcp',
    '',
    json,
  ].join('\r\n');
}

async function createExec(container: string, body: object): Promise<string> {
  const created = await engineRequest(dockerSock(), 'POST', `/v1.41/containers/${container}/exec`, body);
  expect(created.status).toBe(201);
  return (JSON.parse(created.body) as { Id: string }).Id;
}

/** Demultiplexes a non-TTY stream: 8-byte headers {stream, 0, 0, 0, size}. */
function demux(body: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  let at = 0;
  while (at + 8 <= body.length) {
    const size = body.readUInt32BE(at + 4);
    const payload = body.subarray(at + 8, at + 8 + size).toString('utf8');
    if (body[at] === 2) out.stderr += payload;
    else out.stdout += payload;
    at += 8 + size;
  }
  return out;
}

function headerNames(head: string): string[] {
  return head
    .split('\r\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
}

describeIntegration('hijack: exec and attach through docker-sieve on the real daemon', () => {
  let sieve: RunningSieve;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    await removeContainers(NAMES);
    ids['hj-vis'] = await runContainer({ name: 'hj-vis' });
    ids['hj-vis-ticker'] = await runContainer({ name: 'hj-vis-ticker', cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'] });
    ids['hj-hidden'] = await runContainer({ name: 'hj-hidden' });
    sieve = await startSieve({ PROXY_URL: `unix://${dockerSock()}`, CONTAINER_NAMES: 'hj-vis' });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await removeContainers(NAMES);
  });

  it('docker exec on a visible container prints its output', async () => {
    const result = await docker(['exec', 'hj-vis', 'echo', 'hi'], { host: sieve.host });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('hi\n');
    expect(result.code).toBe(0);
  });

  it('docker exec on a hidden container fails as if it did not exist', async () => {
    const result = await docker(['exec', 'hj-hidden', 'echo', 'hi'], { host: sieve.host });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('No such container: hj-hidden');
    expect(result.stdout).toBe('');
  });

  it('docker exec -i round-trips stdin, and the EOF reaches the process', async () => {
    const result = await docker(['exec', '-i', 'hj-vis', 'cat'], { host: sieve.host, input: 'round trip\n', timeoutMs: 20_000 });
    expect(result.timedOut).toBeFalsy();
    expect(result.stdout).toBe('round trip\n');
    expect(result.code).toBe(0);
  });

  it('docker exec -i with a larger stdin, in both directions', async () => {
    const input = Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join('');
    const result = await docker(['exec', '-i', 'hj-vis', 'cat'], { host: sieve.host, input, timeoutMs: 30_000 });
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(input.length);
    expect(result.stdout === input).toBe(true);
  });

  it('docker exec -t (a TTY, raw stream) works', async () => {
    const result = await docker(['exec', '-t', 'hj-vis', 'echo', 'tty hi'], { host: sieve.host });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('tty hi\r\n');
  });

  it('the exit code of the process comes back', async () => {
    const result = await docker(['exec', 'hj-vis', 'sh', '-c', 'echo err >&2; exit 3'], { host: sieve.host });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('err\n');
  });

  it('dockerode attach (hijack) to a visible container receives its output', async () => {
    const client = new Docker({ host: '127.0.0.1', port: sieve.port });
    const stream = (await client.getContainer('hj-vis-ticker').attach({ stream: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    const received = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no tick within 5 s; got ${JSON.stringify(text)}`)), 5_000);
      stream.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if ((text.match(/tick/g) ?? []).length >= 2) {
          clearTimeout(timer);
          resolve(text);
        }
      });
      stream.on('error', reject);
    });
    stream.destroy();
    expect(received).toContain('tick\n');
  });

  it('dockerode attach to a hidden container is a 404', async () => {
    const client = new Docker({ host: '127.0.0.1', port: sieve.port });
    await expect(client.getContainer('hj-hidden').attach({ stream: true, stdout: true, stderr: true, hijack: true })).rejects.toMatchObject({
      statusCode: 404,
    });
    await expect(client.getContainer(ids['hj-hidden']!).attach({ stream: true, stdout: true, hijack: true })).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('docker attach to a visible container receives its output', async () => {
    // attach never ends by itself while the container runs: cut it after a while and look at what came.
    const result = await docker(['attach', '--no-stdin', 'hj-vis-ticker'], { host: sieve.host, timeoutMs: 2_500 });
    expect(result.stdout).toContain('tick\n');
    expect(result.stderr).not.toContain('unable to upgrade');
  });

  it('docker attach to a hidden container fails as if it did not exist', async () => {
    const result = await docker(['attach', '--no-stdin', 'hj-hidden'], { host: sieve.host, timeoutMs: 10_000 });
    expect(result.timedOut).toBeFalsy();
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('No such container: hj-hidden');
  });

  it('an exec created on the daemon for a hidden container is 404 through docker-sieve, inspect and start, and never runs', async () => {
    const id = await createExec('hj-hidden', { Cmd: ['echo', 'x'], AttachStdout: true });
    const inspect = await request(`${sieve.url}/v1.41/exec/${id}/json`);
    expect(inspect.statusCode).toBe(404);
    expect(await inspect.body.json()).toEqual({ message: `No such exec instance: ${id}` });

    const answer = await rawExchange({ port: sieve.port }, execStart(`/v1.41/exec/${id}/start`, { Detach: false, Tty: false }));
    expect(answer.head).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(JSON.parse(answer.body.toString())).toEqual({ message: `No such exec instance: ${id}` });

    const direct = await engineRequest(dockerSock(), 'GET', `/v1.41/exec/${id}/json`);
    expect(JSON.parse(direct.body)).toMatchObject({ Running: false, ExitCode: null, Pid: 0 });
  });

  it("relays the daemon's 101 exactly as the daemon wrote it, never with a Content-Length", async () => {
    const viaSieve = await createExec('hj-vis', { Cmd: ['echo', 'x'], AttachStdout: true, AttachStderr: true });
    const direct = await createExec('hj-vis', { Cmd: ['echo', 'x'], AttachStdout: true, AttachStderr: true });
    const body = { Detach: false, Tty: false };
    const [sieved, daemon] = await Promise.all([
      rawExchange({ port: sieve.port }, execStart(`/v1.41/exec/${viaSieve}/start`, body)),
      rawExchange({ path: dockerSock() }, execStart(`/v1.41/exec/${direct}/start`, body)),
    ]);
    expect(sieved.head).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/);
    expect(headerNames(sieved.head)).not.toContain('content-length');
    expect(sieved.head).toBe(daemon.head);
    expect(demux(sieved.body)).toEqual({ stdout: 'x\n', stderr: '' });
  });

  it('a TTY exec start answers a raw stream, unframed', async () => {
    const id = await createExec('hj-vis', { Cmd: ['echo', 'x'], AttachStdout: true, Tty: true });
    const answer = await rawExchange({ port: sieve.port }, execStart(`/v1.41/exec/${id}/start`, { Detach: false, Tty: true }));
    expect(answer.head).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/);
    expect(answer.head).toContain('Content-Type: application/vnd.docker.raw-stream\r\n');
    expect(answer.body.toString()).toBe('x\r\n');
  });

  it('a detached exec start with Upgrade is answered once and the connection closed: a pipelined request never reaches the daemon', async () => {
    // dockerd answers a detached start with a 200 and keeps the connection for the next request: a raw tunnel
    // would hand that request to the daemon without any gate.
    const execIds = async (): Promise<string[]> =>
      (JSON.parse((await engineRequest(dockerSock(), 'GET', '/v1.41/containers/hj-hidden/json')).body) as { ExecIDs: string[] | null }).ExecIDs ?? [];
    const before = await execIds();
    const id = await createExec('hj-vis', { Cmd: ['true'] });
    const smuggled = JSON.stringify({ Cmd: ['echo', 'smuggled'] });
    const answer = await rawExchange(
      { port: sieve.port },
      execStart(`/v1.41/exec/${id}/start`, { Detach: true, Tty: false }) +
        `POST /v1.41/containers/${ids['hj-hidden']}/exec HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    );
    expect(answer.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.head).toContain('Content-Length: 0\r\n');
    expect(answer.body.length).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await execIds()).toEqual(before);
  });
});
