// The upgrade relay (exec, attach) against a fake daemon on loopback that speaks raw HTTP on the upgraded
// socket: what is forwarded, byte for byte, and what never is.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import {
  chunkedBody,
  fixedLengthBody,
  parseResponseHead,
  requestBodyEnd,
  responseBodyEnd,
  type BodyEnd,
} from '../../src/hijack/framing.js';
import { makeTestCertificates } from '../support/certs.js';
import { freePort } from '../support/free-port.js';

const DAEMON = { 'Api-Version': '1.41', 'Docker-Experimental': 'false', Ostype: 'linux', Server: 'Docker/20.10.24+dfsg1 (linux)' };
const WEB = { Id: 'a'.repeat(64), Name: '/web-a', Labels: {} };
const DB = { Id: 'b'.repeat(64), Name: '/db-hidden', Labels: { secret: 'yes' } };
const EXEC_VISIBLE = { ID: 'e'.repeat(64), ContainerID: WEB.Id };
const EXEC_HIDDEN = { ID: 'f'.repeat(64), ContainerID: DB.Id };
/** As dockerd 20.10 writes it (hijack in daemon/attach and exec start). */
const UPGRADED =
  'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n' +
  'Api-Version: 1.41\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n\r\n';

interface UpgradeSeen {
  method: string;
  url: string;
  rawHeaders: string[];
  /** The request body, framed by Content-Length. */
  body: Buffer;
  /** Everything that arrived after the body, whatever the answer. */
  after: Buffer[];
  ended: boolean;
}

type UpgradeBehaviour = (socket: Duplex, seen: UpgradeSeen) => void;

interface FakeDaemon {
  url: string;
  port: number;
  lookups: string[];
  upgrades: UpgradeSeen[];
  behaviour: UpgradeBehaviour;
  close(): Promise<void>;
}

/** 101, then echo every byte; on the client's EOF, say bye and close. */
const echo: UpgradeBehaviour = (socket) => {
  socket.write(UPGRADED);
  socket.on('data', (chunk: Buffer) => socket.write(chunk));
  socket.on('end', () => socket.end('bye\n'));
};

async function startFakeDaemon(server: Server = createServer(), scheme = 'http'): Promise<FakeDaemon> {
  const fake: FakeDaemon = { url: '', port: 0, lookups: [], upgrades: [], behaviour: echo, close: async () => {} };
  const inspect: Record<string, unknown> = {};
  for (const c of [WEB, DB]) {
    const body = { Id: c.Id, Name: c.Name, Config: { Labels: c.Labels, Env: ['SECRET=x'] } };
    for (const ref of [c.Id, c.Name.slice(1), c.Id.slice(0, 12)]) inspect[`/containers/${ref}/json`] = body;
  }
  for (const e of [EXEC_VISIBLE, EXEC_HIDDEN]) inspect[`/exec/${e.ID}/json`] = { ID: e.ID, ContainerID: e.ContainerID, Running: false };

  server.on('request', (req: IncomingMessage, res) => {
    fake.lookups.push(`${req.method} ${req.url}`);
    const path = (req.url ?? '').split('?')[0]!.replace(/^\/docker/, '').replace(/^\/v[0-9.]+/, '');
    const body = inspect[path];
    res.writeHead(body === undefined ? 404 : 200, { ...DAEMON, 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify(body ?? { message: `No such container: ${path}` })}\n`);
  });
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.on('error', () => socket.destroy());
    // Like dockerd: a client's EOF on stdin leaves the output direction open.
    (socket as Duplex & { allowHalfOpen: boolean }).allowHalfOpen = true;
    const seen: UpgradeSeen = { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body: Buffer.alloc(0), after: [], ended: false };
    fake.upgrades.push(seen);
    let wanted = Number(req.headers['content-length'] ?? 0);
    const behaviour = fake.behaviour;
    let started = false;
    const take = (chunk: Buffer): void => {
      if (wanted > 0) {
        const n = Math.min(wanted, chunk.length);
        seen.body = Buffer.concat([seen.body, chunk.subarray(0, n)]);
        wanted -= n;
        chunk = chunk.subarray(n);
      }
      if (chunk.length > 0) seen.after.push(chunk);
      if (wanted === 0 && !started) {
        started = true;
        socket.off('data', take);
        const rest = Buffer.concat(seen.after);
        behaviour(socket, seen);
        socket.on('data', (c: Buffer) => seen.after.push(c));
        if (rest.length > 0) socket.emit('data', rest);
      }
    };
    socket.on('end', () => (seen.ended = true));
    socket.on('data', take);
    take(head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.url = `${scheme}://127.0.0.1:${fake.port}`;
  fake.close = async () => {
    for (const socket of upgraded) socket.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return fake;
}

let daemon: FakeDaemon | undefined;
let app: FastifyInstance | undefined;
let port = 0;
const clients: Socket[] = [];
let logLines: Array<Record<string, unknown>> = [];

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  await app?.close();
  await daemon?.close();
  app = undefined;
  daemon = undefined;
});

async function start(env: Env = {}, fake?: FakeDaemon): Promise<void> {
  daemon = fake ?? (await startFakeDaemon());
  // This app's lines only: an earlier app may still be logging the end of its tunnels.
  const lines: Array<Record<string, unknown>> = [];
  logLines = lines;
  const logger = {
    level: 'info',
    stream: new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  };
  app = await buildApp({
    config: parseConfig({ PROXY_URL: daemon.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'info', SHUTDOWN_GRACE: '0', ...env }),
    resolver: { watchEvents: false },
    logger,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
}

/** A raw client: what it sends is exactly what we write, what it receives is exactly what came. */
class RawClient {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  ended = false;
  closed = false;
  private waiters: Array<() => void> = [];

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  async until(check: () => boolean, what: string, ms = 3_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  text(): string {
    return this.received.toString('latin1');
  }

  /** The first response head and what follows it. */
  async head(): Promise<{ head: string; rest: string }> {
    await this.until(() => this.text().includes('\r\n\r\n') || this.closed, 'a response head');
    const text = this.text();
    const end = text.indexOf('\r\n\r\n');
    return { head: text.slice(0, end + 4), rest: text.slice(end + 4) };
  }
}

async function rawClient(tls?: { ca: Buffer }): Promise<RawClient> {
  const socket =
    tls === undefined
      ? connect({ port, host: '127.0.0.1', allowHalfOpen: true })
      : tlsConnect({ port, host: '127.0.0.1', ca: tls.ca, allowHalfOpen: true } as ConnectionOptions);
  clients.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once(tls === undefined ? 'connect' : 'secureConnect', resolve);
    socket.once('error', reject);
  });
  return new RawClient(socket);
}

function upgradeRequest(method: string, path: string, body = '', extra: string[] = []): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1:2375', 'User-Agent: Docker-Client/28.2.2 (linux)', ...extra];
  if (body !== '') lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  lines.push('Connection: Upgrade', 'Upgrade: tcp', '', '');
  return lines.join('\r\n') + body;
}

function headerOf(head: string, name: string): string | undefined {
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

function requestLog(): Record<string, unknown> | undefined {
  return logLines.find((line) => line.msg === 'request');
}

/** While a tunnel is open, nothing is logged yet: the line is written when it closes. */
async function waitForLogOrNone(): Promise<Record<string, unknown> | undefined> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return requestLog();
}

async function waitForLog(): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 3_000;
  while (requestLog() === undefined) {
    if (Date.now() > deadline) throw new Error('no request log line');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return requestLog()!;
}

const ATTACH_QUERY = 'stream=1&stdin=1&stdout=1&stderr=1';
const EXEC_BODY = '{"Detach":false,"Tty":false}';

describe('gate: nothing about a hidden container is upgraded', () => {
  it.each([
    ['name', 'db-hidden'],
    ['full ID', DB.Id],
    ['ID prefix', DB.Id.slice(0, 12)],
    ['unknown name', 'nope'],
  ])('attach to a hidden or missing container by %s is a 404 and is never forwarded', async (_how, ref) => {
    await start();
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/v1.41/containers/${ref}/attach?${ATTACH_QUERY}`));
    await client.until(() => client.ended, 'the end of the answer');
    const { head, rest } = await client.head();
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
    expect(headerOf(head, 'content-type')).toBe('application/json');
    expect(headerOf(head, 'content-length')).toBe(String(Buffer.byteLength(rest)));
    expect(headerOf(head, 'connection')).toBe('close');
    expect(headerOf(head, 'api-version')).toBe('1.41');
    expect(JSON.parse(rest)).toEqual({ message: `No such container: ${ref}` });
    expect(daemon!.upgrades).toEqual([]);
    expect(daemon!.lookups).toEqual([`GET /containers/${ref}/json`]);
    expect(await waitForLog()).toMatchObject({ method: 'POST', status: 404, decision: 'hidden', upgrade: 'tcp' });
  });

  it('answers in plain text for API 1.23 and below', async () => {
    await start();
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/v1.23/containers/db-hidden/attach?${ATTACH_QUERY}`));
    await client.until(() => client.ended, 'the end of the answer');
    const { head, rest } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(headerOf(head, 'content-type')).toBe('text/plain; charset=utf-8');
    expect(rest).toBe('No such container: db-hidden\n');
  });

  it('attach over a websocket (GET attach/ws) is gated the same', async () => {
    await start();
    const client = await rawClient();
    client.socket.write(
      [`GET /v1.41/containers/db-hidden/attach/ws?stream=1`, 'Host: x', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', '', ''].join('\r\n'),
    );
    const { head } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(daemon!.upgrades).toEqual([]);
  });

  it.each([
    ['hidden container', EXEC_HIDDEN.ID, [`GET /exec/${EXEC_HIDDEN.ID}/json`, `GET /containers/${DB.Id}/json`]],
    ['unknown', 'c'.repeat(64), [`GET /exec/${'c'.repeat(64)}/json`]],
  ])('exec start of an exec in a %s is a 404 and is never forwarded', async (_how, id, lookups) => {
    await start();
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/v1.41/exec/${id}/start`, EXEC_BODY));
    await client.until(() => client.ended, 'the end of the answer');
    const { head, rest } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(JSON.parse(rest)).toEqual({ message: `No such exec instance: ${id}` });
    expect(daemon!.upgrades).toEqual([]);
    expect(daemon!.lookups).toEqual(lookups);
  });

  it('a failed lookup is a 502 and nothing is forwarded', async () => {
    const fake = await startFakeDaemon();
    await start({}, fake);
    await fake.close();
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    const { head, rest } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 502 /);
    expect(JSON.parse(rest).message).toMatch(/^docker-sieve: lookup failed/);
    expect(await waitForLog()).toMatchObject({ status: 502, decision: 'upstream-error' });
  });

  it("relays the socket proxy's own 403 on the lookup", async () => {
    const server = createServer();
    const fake = await startFakeDaemon(server);
    server.removeAllListeners('request');
    server.on('request', (_req, res) => {
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      res.end('Forbidden\n');
    });
    await start({}, fake);
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/exec/${EXEC_VISIBLE.ID}/start`, EXEC_BODY));
    const { head, rest } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(headerOf(head, 'content-type')).toBe('text/plain');
    expect(rest).toBe('Forbidden\n');
    expect(fake.upgrades).toEqual([]);
  });

  it.each([
    ['an inspect', 'GET', '/containers/web-a/json', 400],
    ['the list', 'GET', '/containers/json', 400],
    ['exec inspect', 'GET', `/exec/${EXEC_VISIBLE.ID}/json`, 400],
    ['not a route', 'POST', '/containers/web-a/bogus', 404],
  ])('an upgrade of %s is refused without asking the upstream anything', async (_what, method, path, status) => {
    await start();
    const client = await rawClient();
    client.socket.write(upgradeRequest(method, path));
    const { head } = await client.head();
    expect(head.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Not Found'}`);
    expect(daemon!.lookups).toEqual([]);
    expect(daemon!.upgrades).toEqual([]);
    expect(await waitForLog()).toMatchObject({ status, decision: 'refused' });
  });

  it('ALLOW_FROM applies to upgrades too', async () => {
    await start({ ALLOW_FROM: '192.0.2.1' });
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    const { head, rest } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 403 /);
    expect(JSON.parse(rest).message).toMatch(/ALLOW_FROM/);
    expect(daemon!.lookups).toEqual([]);
  });
});

describe('relay of a visible container', () => {
  it('forwards the judged full ID, the headers as sent, and relays the 101 byte for byte; echo both ways', async () => {
    await start();
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/v1.41/containers/web-a/attach?${ATTACH_QUERY}`, '', ['X-Custom: Kept As-Is']));
    const { head } = await client.head();
    expect(head).toBe(UPGRADED);
    expect(headerOf(head, 'content-length')).toBeUndefined();

    const seen = daemon!.upgrades[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe(`/v1.41/containers/${WEB.Id}/attach?${ATTACH_QUERY}`);
    expect(seen.rawHeaders).toEqual([
      'Host', `127.0.0.1:${daemon!.port}`,
      'User-Agent', 'Docker-Client/28.2.2 (linux)',
      'X-Custom', 'Kept As-Is',
      'Connection', 'Upgrade',
      'Upgrade', 'tcp',
    ]);

    client.socket.write('ping\n');
    await client.until(() => client.text().endsWith('ping\n'), 'the echo');
    client.socket.write(Buffer.from([0, 1, 2, 255, 13, 10]));
    await client.until(() => client.received.subarray(-6).equals(Buffer.from([0, 1, 2, 255, 13, 10])), 'binary echo');
  });

  it('half-closes: the client EOF reaches the daemon, whose last words and EOF reach the client', async () => {
    await start();
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.head();
    client.socket.write('round trip\n');
    await client.until(() => client.text().endsWith('round trip\n'), 'the echo');
    client.socket.end();
    await client.until(() => client.ended, 'EOF from docker-sieve');
    expect(client.text().endsWith('round trip\nbye\n')).toBe(true);
    expect(daemon!.upgrades[0]!.ended).toBe(true);
    await client.until(() => client.closed, 'the close');
    expect(await waitForLog()).toMatchObject({ method: 'POST', path: `/containers/web-a/attach?${ATTACH_QUERY}`, status: 101, decision: 'passed' });
  });

  it('attach/ws: the websocket handshake goes through unchanged', async () => {
    await start();
    daemon!.behaviour = (socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    };
    const client = await rawClient();
    client.socket.write(
      ['GET /containers/web-a/attach/ws?stream=1', 'Host: x', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', '', ''].join('\r\n'),
    );
    const { head } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(daemon!.upgrades[0]!.url).toBe(`/containers/${WEB.Id}/attach/ws?stream=1`);
    expect(daemon!.upgrades[0]!.rawHeaders).toContain('Sec-WebSocket-Key');
  });

  it("keeps PROXY_URL's path prefix", async () => {
    const fake = await startFakeDaemon();
    await start({ PROXY_URL: `${fake.url}/docker` }, fake);
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/v1.41/exec/${EXEC_VISIBLE.ID}/start`, EXEC_BODY));
    const { head } = await client.head();
    expect(head).toBe(UPGRADED);
    expect(fake.lookups).toEqual([`GET /docker/exec/${EXEC_VISIBLE.ID}/json`, `GET /docker/containers/${WEB.Id}/json`]);
    expect(fake.upgrades[0]!.url).toBe(`/docker/v1.41/exec/${EXEC_VISIBLE.ID}/start`);
  });
});

describe('with no filters', () => {
  it('relays an attach as it came, with no lookup first: nothing to hide', async () => {
    await start({ CONTAINER_NAMES: '' });
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/v1.41/containers/db-hidden/attach?${ATTACH_QUERY}`));
    const { head } = await client.head();
    expect(head).toBe(UPGRADED);
    expect(daemon!.lookups).toEqual([]);
    expect(daemon!.upgrades.map((u) => u.url)).toEqual([`/v1.41/containers/db-hidden/attach?${ATTACH_QUERY}`]);
  });

  it('relays an exec start of an unknown exec as it came: the upstream answers', async () => {
    await start({ CONTAINER_NAMES: '' });
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/exec/${'9'.repeat(64)}/start`, EXEC_BODY));
    await client.head();
    expect(daemon!.lookups).toEqual([]);
    expect(daemon!.upgrades.map((u) => u.url)).toEqual([`/exec/${'9'.repeat(64)}/start`]);
  });
});

describe('relay of exec start', () => {
  it('forwards the body, the exec ID judged, and relays the 101', async () => {
    await start();
    const client = await rawClient();
    const request = upgradeRequest('POST', `/v1.41/exec/${EXEC_VISIBLE.ID}/start`, EXEC_BODY);
    // The body in a separate write, as it may arrive after the head.
    client.socket.write(request.slice(0, -EXEC_BODY.length));
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.socket.write(EXEC_BODY);
    const { head } = await client.head();
    expect(head).toBe(UPGRADED);
    expect(daemon!.upgrades[0]!.url).toBe(`/v1.41/exec/${EXEC_VISIBLE.ID}/start`);
    expect(daemon!.upgrades[0]!.body.toString()).toBe(EXEC_BODY);
    expect(daemon!.upgrades[0]!.rawHeaders).toEqual(expect.arrayContaining(['Content-Length', String(EXEC_BODY.length)]));
    expect(await waitForLogOrNone()).toBeUndefined();
  });

  it('a body that arrives in pieces is forwarded whole, and bytes after it wait for the 101', async () => {
    await start();
    let release!: () => void;
    const answered = new Promise<void>((resolve) => (release = resolve));
    let afterAtAnswer: Buffer[] | undefined;
    daemon!.behaviour = (socket, seen) => {
      // Answer only once the test says so: what the client sends meanwhile must not be forwarded yet.
      void answered.then(() => {
        afterAtAnswer = [...seen.after];
        echo(socket, seen);
      });
    };
    const client = await rawClient();
    const request = upgradeRequest('POST', `/exec/${EXEC_VISIBLE.ID}/start`, EXEC_BODY);
    const cut = request.length - 10;
    client.socket.write(request.slice(0, cut));
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.socket.write(request.slice(cut) + 'early stdin\n');
    const deadline = Date.now() + 3_000;
    while (daemon!.upgrades[0]?.body.length !== EXEC_BODY.length) {
      if (Date.now() > deadline) throw new Error('the body never arrived');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(daemon!.upgrades[0]!.body.toString()).toBe(EXEC_BODY);
    expect(daemon!.upgrades[0]!.after).toEqual([]);
    release();
    const { head } = await client.head();
    expect(head).toBe(UPGRADED);
    expect(afterAtAnswer).toEqual([]);
    await client.until(() => client.text().endsWith('early stdin\n'), 'the held bytes, echoed');
  });

  it('a chunked body is framed by its chunks', async () => {
    await start();
    const client = await rawClient();
    client.socket.write(
      [`POST /exec/${EXEC_VISIBLE.ID}/start HTTP/1.1`, 'Host: x', 'Transfer-Encoding: chunked', 'Connection: Upgrade', 'Upgrade: tcp', '', ''].join('\r\n') +
        `${EXEC_BODY.length.toString(16)}\r\n${EXEC_BODY}\r\n0\r\n\r\nafter`,
    );
    const { head } = await client.head();
    expect(head).toBe(UPGRADED);
    await client.until(() => client.text().endsWith('after'), 'the bytes after the body, echoed');
  });
});

describe('answers other than 101', () => {
  it('relays a framed answer exactly, then closes: a pipelined request never reaches the upstream', async () => {
    await start();
    const answer = 'HTTP/1.1 404 Not Found\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: 46\r\n\r\n{"message":"No such exec instance: gone away"}';
    daemon!.behaviour = (socket) => socket.write(answer);
    const client = await rawClient();
    client.socket.write(
      upgradeRequest('POST', `/exec/${EXEC_VISIBLE.ID}/start`, '{"Detach":true}') +
        `GET /containers/${DB.Id}/json HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    await client.until(() => client.ended, 'the end of the connection');
    expect(client.text()).toBe(answer);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(daemon!.upgrades[0]!.after).toEqual([]);
    expect(daemon!.lookups).not.toContain(`GET /containers/${DB.Id}/json`);
    expect(await waitForLog()).toMatchObject({ status: 404, decision: 'passed' });
  });

  it('relays a chunked answer to its end, then closes', async () => {
    await start();
    const answer = 'HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
    daemon!.behaviour = (socket) => {
      socket.write(answer.slice(0, 40));
      setTimeout(() => socket.write(answer.slice(40)), 30);
    };
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.until(() => client.ended, 'the end of the connection');
    expect(client.text()).toBe(answer);
  });

  it('a malformed chunked answer cuts the client, and the process lives on', async () => {
    await start();
    daemon!.behaviour = (socket) => socket.write('HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.until(() => client.ended || client.closed, 'the client to be cut');
    expect(await waitForLog()).toMatchObject({ status: 500, decision: 'upstream-error', err: expect.stringMatching(/malformed chunk size/) });
    const next = await rawClient();
    next.socket.write(upgradeRequest('POST', `/containers/db-hidden/attach?${ATTACH_QUERY}`));
    expect((await next.head()).head).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('relays a 200 without length (the daemon without Upgrade) raw, both ways, until it closes', async () => {
    await start();
    daemon!.behaviour = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('end', () => socket.end());
    };
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    const { head } = await client.head();
    expect(head).toBe('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
    client.socket.write('stdin\n');
    await client.until(() => client.text().endsWith('stdin\n'), 'the echo');
    client.socket.end();
    await client.until(() => client.ended, 'EOF');
  });

  it('relays a 100 Continue before the 101', async () => {
    await start();
    daemon!.behaviour = (socket, seen) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      setTimeout(() => echo(socket, seen), 20);
    };
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.until(() => client.text().endsWith(UPGRADED), 'the 101');
    expect(client.text()).toBe(`HTTP/1.1 100 Continue\r\n\r\n${UPGRADED}`);
  });
});

describe('upstream failures', () => {
  it('an upstream that closes before answering is a 502', async () => {
    await start();
    daemon!.behaviour = (socket) => socket.destroy();
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    const { head, rest } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 502 /);
    expect(JSON.parse(rest).message).toMatch(/closed the connection before answering/);
    expect(await waitForLog()).toMatchObject({ status: 502, decision: 'upstream-error' });
  });

  it('an upstream that cannot be reached is a 502 (a pass-through upgrade needs no lookup)', async () => {
    const fake = await startFakeDaemon();
    await start({}, fake);
    await fake.close();
    const client = await rawClient();
    client.socket.write(['POST /session HTTP/1.1', 'Host: x', 'Connection: Upgrade', 'Upgrade: h2c', '', ''].join('\r\n'));
    const { head, rest } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(headerOf(head, 'content-length')).toBe(String(rest.length));
    expect(JSON.parse(rest).message).toMatch(/^docker-sieve: upstream unavailable: connect ECONNREFUSED/);
    expect(await waitForLog()).toMatchObject({ status: 502, decision: 'upstream-error' });
  });

  it('an upstream that closes mid-stream ends the client; the exchange is over when the client closes too', async () => {
    await start();
    let upstreamSocket: Duplex | undefined;
    daemon!.behaviour = (socket, seen) => {
      upstreamSocket = socket;
      echo(socket, seen);
    };
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.head();
    upstreamSocket!.end('last words\n');
    await client.until(() => client.ended, 'the end to reach the client');
    expect(client.text().endsWith('last words\n')).toBe(true);
    expect(await waitForLogOrNone()).toBeUndefined();
    client.socket.end();
    expect(await waitForLog()).toMatchObject({ status: 101, decision: 'passed' });
  });

  it('an upstream reset cuts the client', async () => {
    await start();
    let upstreamSocket: Socket | undefined;
    daemon!.behaviour = (socket, seen) => {
      upstreamSocket = socket as Socket;
      echo(socket, seen);
    };
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.head();
    upstreamSocket!.resetAndDestroy();
    await client.until(() => client.ended || client.closed, 'the client to be cut');
    expect(await waitForLog()).toMatchObject({ status: 101, decision: 'passed', err: expect.stringMatching(/ECONNRESET/) });
  });

  it('a client that goes away cuts the upstream', async () => {
    await start();
    let upstreamClosed = false;
    daemon!.behaviour = (socket, seen) => {
      socket.on('close', () => (upstreamClosed = true));
      echo(socket, seen);
    };
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.head();
    client.socket.destroy();
    const deadline = Date.now() + 3_000;
    while (!upstreamClosed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(upstreamClosed).toBe(true);
  });
});

describe('lifecycle', () => {
  it('BuildKit-style pass-through upgrades (/session) are relayed unchanged', async () => {
    await start();
    daemon!.behaviour = (socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n');
    const client = await rawClient();
    client.socket.write(['POST /session HTTP/1.1', 'Host: x', 'Connection: Upgrade', 'Upgrade: h2c', 'X-Docker-Expose-Session-Uuid: u1', '', ''].join('\r\n'));
    const { head } = await client.head();
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(daemon!.upgrades[0]!.url).toBe('/session');
    expect(daemon!.lookups).toEqual([]);
  });

  it('upgrades are counted in the metrics like other requests', async () => {
    const metricsPort = await freePort();
    await start({ METRICS_PORT: String(metricsPort), LISTEN_ADDRESS: '127.0.0.1' });
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/db-hidden/attach?${ATTACH_QUERY}`));
    await client.until(() => client.ended, 'the 404');
    await waitForLog();
    const scraped = await new Promise<string>((resolve, reject) => {
      const socket = connect({ port: metricsPort, host: '127.0.0.1' });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    expect(scraped).toMatch(/docker_sieve_requests_total\{route="container",decision="hidden",profile="default"\} 1/);
  });

  it('an idle tunnel outlives the client idle and header timeouts', async () => {
    await start({ CLIENT_IDLE_TIMEOUT: '0.2', CLIENT_HEADERS_TIMEOUT: '0.2' });
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.head();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    client.socket.write('still here\n');
    await client.until(() => client.text().endsWith('still here\n'), 'the echo after idling');
  });

  it('closing the app cuts tunnels in progress, and closes', async () => {
    await start();
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    await client.head();
    await app!.close();
    app = undefined;
    await client.until(() => client.ended, 'the tunnel to be cut');
  });

  it('served over TLS (TLS_CERT): relays, and half-closes like plain TCP', async () => {
    const certs = makeTestCertificates();
    await start({ TLS_CERT: certs.serverCert, TLS_KEY: certs.serverKey });
    const client = await rawClient({ ca: readFileSync(certs.ca) });
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    const { head } = await client.head();
    expect(head).toBe(UPGRADED);
    client.socket.write('secret stdin\n');
    await client.until(() => client.text().endsWith('secret stdin\n'), 'the echo');
    client.socket.end();
    await client.until(() => client.text().endsWith('bye\n') && client.ended, 'bye and EOF after our EOF');
  });

  it('works with an https upstream (PROXY_CA)', async () => {
    const certs = makeTestCertificates();
    const server = createTlsServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) });
    const fake = await startFakeDaemon(server as unknown as Server, 'https');
    await start({ PROXY_URL: fake.url, PROXY_CA: certs.ca }, fake);
    const client = await rawClient();
    client.socket.write(upgradeRequest('POST', `/containers/web-a/attach?${ATTACH_QUERY}`));
    const { head } = await client.head();
    expect(head).toBe(UPGRADED);
    client.socket.write('over tls\n');
    await client.until(() => client.text().endsWith('over tls\n'), 'the echo over TLS');
    client.socket.end();
    await client.until(() => client.text().endsWith('bye\n') && client.ended, 'bye and EOF');
  });
});

describe('framing', () => {
  function feedAll(end: BodyEnd, bytes: Buffer, step: number): number {
    let used = 0;
    for (let i = 0; i < bytes.length && !end.done; i += step) {
      const chunk = bytes.subarray(i, Math.min(i + step, bytes.length));
      const n = end.take(chunk);
      used += n;
      if (n < chunk.length) break;
    }
    return used;
  }

  const chunked = Buffer.from('5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\nNEXT');

  it.each([1, 2, 3, 7, 100])('finds the end of a chunked body fed %i bytes at a time', (step) => {
    const end = chunkedBody();
    expect(feedAll(end, chunked, step)).toBe(chunked.length - 4);
    expect(end.done).toBe(true);
  });

  it.each(['zz\r\n', '5\r\nhelloXX\r\n', `${'f'.repeat(13)}\r\n`])('refuses a malformed chunked body %j', (text) => {
    expect(() => chunkedBody().take(Buffer.from(text))).toThrow(/chunked body/);
  });

  it('frames requests by Content-Length, chunked, or nothing', () => {
    expect(requestBodyEnd({ 'content-length': '5' })?.take(Buffer.from('helloNEXT'))).toBe(5);
    expect(requestBodyEnd({})?.done).toBe(true);
    expect(requestBodyEnd({ 'transfer-encoding': 'chunked' })?.done).toBe(false);
    expect(requestBodyEnd({ 'transfer-encoding': 'gzip' })).toBeUndefined();
    expect(requestBodyEnd({ 'transfer-encoding': 'chunked', 'content-length': '3' })).toBeUndefined();
    expect(requestBodyEnd({ 'content-length': '-1' })).toBeUndefined();
    expect(fixedLengthBody(0).done).toBe(true);
  });

  it('frames answers', () => {
    const head = (text: string) => parseResponseHead(`${text}\r\n\r\n`)!;
    expect(responseBodyEnd('POST', head('HTTP/1.1 404 Not Found\r\nContent-Length: 3'))).toMatchObject({ done: false });
    expect(responseBodyEnd('POST', head('HTTP/1.1 204 No Content'))).toMatchObject({ done: true });
    expect(responseBodyEnd('HEAD', head('HTTP/1.1 200 OK\r\nContent-Length: 3'))).toMatchObject({ done: true });
    expect(responseBodyEnd('POST', head('HTTP/1.1 200 OK'))).toBe('close');
    expect(responseBodyEnd('POST', head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip'))).toBe('close');
    expect(responseBodyEnd('POST', head('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked'))).toMatchObject({ done: false });
    expect(responseBodyEnd('POST', head('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4'))).toBeUndefined();
    expect(responseBodyEnd('POST', head('HTTP/1.1 200 OK\r\nContent-Length: 3, 3'))).toMatchObject({ done: false });
    expect(parseResponseHead('SSH-2.0-OpenSSH\r\n\r\n')).toBeUndefined();
    expect(parseResponseHead('HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n')?.headers.get('upgrade')).toEqual(['tcp']);
  });
});
