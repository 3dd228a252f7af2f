// Podman's plain exec start (a POST with no Upgrade, answered `200` with no length, then stdin on the same
// connection): the request line reader, and the relay through the app against a raw fake Podman that answers
// as Podman 4.3.1 does (pkg/api/handlers/utils: writeHijackHeader).
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import { makeTestCertificates } from '../support/certs.js';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { parseConfigFile, resolveTokens } from '../../src/config/file.js';
import { ADDED_HEADERS, isPlainExecStart, withoutAddedHeaders, withUpgradeHeaders } from '../../src/hijack/plain-start.js';
import { fileProfileSet, type ProfileSet } from '../../src/policy/profiles.js';

const EXEC = 'e'.repeat(64);
const HIDDEN_EXEC = 'f'.repeat(64);
const WEB = { Id: 'a'.repeat(64), Name: 'web-a', Config: { Labels: {}, Env: ['SECRET=x'] } };
const DB = { Id: 'b'.repeat(64), Name: 'db-hidden', Config: { Labels: {}, Env: ['SECRET=x'] } };

describe('isPlainExecStart: which first request lines become an upgrade', () => {
  it.each([
    ['POST /v4.3.1/libpod/exec/' + EXEC + '/start HTTP/1.1', true],
    ['POST /v4.3.1/libpod/exec/' + EXEC + '/start HTTP/1.1\r', true],
    ['POST /libpod/exec/abc/start HTTP/1.1', true],
    ['POST /v4.3.1/libpod/exec/abc/start?x=1 HTTP/1.1', true],
    // Encoded and doubled slashes are cleaned as the classifier cleans them.
    ['POST /v4.3.1//libpod/exec/abc/%73tart HTTP/1.1', true],
    // Not a libpod exec start: left to Node's parser and the HTTP routes.
    ['POST /v1.41/exec/abc/start HTTP/1.1', false],
    ['POST /exec/abc/start HTTP/1.1', false],
    ['GET /v4.3.1/libpod/exec/abc/start HTTP/1.1', false],
    ['POST /v4.3.1/libpod/exec/abc/resize HTTP/1.1', false],
    ['POST /v4.3.1/libpod/exec/abc/json HTTP/1.1', false],
    ['POST /v4.3.1/libpod/containers/abc/attach HTTP/1.1', false],
    ['POST /v4.3.1/libpod/exec/abc/start HTTP/1.0', false],
    ['POST  /v4.3.1/libpod/exec/abc/start HTTP/1.1', false],
    ['post /v4.3.1/libpod/exec/abc/start HTTP/1.1', false],
    ['', false],
    ['\u0016\u0003\u0001', false],
  ])('%j → %s', (line, plain) => {
    expect(isPlainExecStart(line)).toBe(plain);
  });

  it('adds the two header lines right after the request line, and the relay takes exactly those out again', () => {
    const head = Buffer.from('POST /libpod/exec/abc/start HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}');
    const out = withUpgradeHeaders(head, head.indexOf(0x0a)).toString('latin1');
    expect(out).toBe('POST /libpod/exec/abc/start HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}');
    expect(withoutAddedHeaders([...ADDED_HEADERS, 'Host', 'd'])).toEqual(['Host', 'd']);
    // Not added by us (a client that upgrades by itself): left alone.
    expect(withoutAddedHeaders(['Host', 'd', ...ADDED_HEADERS])).toEqual(['Host', 'd', ...ADDED_HEADERS]);
    expect(withoutAddedHeaders(['Connection', 'Upgrade', 'Upgrade', 'websocket'])).toEqual(['Connection', 'Upgrade', 'Upgrade', 'websocket']);
  });
});

interface StartSeen {
  head: string;
  body: string;
  /** What came after the body: stdin. */
  stdin: string;
}

/** A raw fake Podman: inspects on keep-alive, and exec start as Podman writes it (200 or 101, then the stream). */
async function startFakePodman(): Promise<{ url: string; starts: StartSeen[]; requests: string[]; close(): Promise<void> }> {
  const starts: StartSeen[] = [];
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    let streaming: StartSeen | undefined;
    socket.on('end', () => {
      if (streaming === undefined) return socket.end();
      // stdin's EOF: the process ends, its last output and the end of the stream follow.
      socket.end(frame(1, `got ${JSON.stringify(streaming.stdin)}\n`));
    });
    socket.on('data', (chunk: Buffer) => {
      if (streaming !== undefined) {
        streaming.stdin += chunk.toString('latin1');
        socket.write(frame(1, chunk.toString('latin1')));
        return;
      }
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *([0-9]+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const body = buffered.subarray(end + 4, end + 4 + length).toString('latin1');
        const rest = buffered.subarray(end + 4 + length);
        buffered = Buffer.alloc(0);
        const [method, url] = head.split(' ');
        requests.push(`${method} ${url}`);
        const path = url!.split('?')[0]!.replace(/^\/v[0-9.]+/, '');
        const start = /^\/libpod\/exec\/([0-9a-f]{64})\/start$/.exec(path);
        if (method === 'POST' && start !== null) {
          streaming = { head, body, stdin: rest.toString('latin1') };
          starts.push(streaming);
          const upgrade = /\r\nupgrade: *(\S+)/i.exec(head)?.[1];
          socket.write(
            upgrade !== undefined && /\r\nconnection: *upgrade/i.test(head)
              ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`
              : 'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n',
          );
          if (streaming.stdin !== '') socket.write(frame(1, streaming.stdin));
          return;
        }
        const found = answerLookup(path);
        const json = `${JSON.stringify(found ?? { cause: 'no such container', message: 'no such container', response: 404 })}\n`;
        socket.write(`HTTP/1.1 ${found === undefined ? '404 Not Found' : '200 OK'}\r\nContent-Type: application/json\r\nLibpod-Api-Version: 4.3.1\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
        buffered = rest;
        if (rest.length === 0) return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    starts,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answerLookup(path: string): unknown {
  for (const c of [WEB, DB]) if (path === `/libpod/containers/${c.Id}/json` || path === `/libpod/containers/${c.Name}/json`) return { ...c, Name: c.Name };
  if (path === `/libpod/exec/${EXEC}/json`) return { ID: EXEC, ContainerID: WEB.Id, Running: false };
  if (path === `/libpod/exec/${HIDDEN_EXEC}/json`) return { ID: HIDDEN_EXEC, ContainerID: DB.Id, Running: false };
  return undefined;
}

/** One frame of the multiplexed stream: [stream, 0, 0, 0, size (4 bytes)] + payload. */
function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text, 'latin1');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

let podman: Awaited<ReturnType<typeof startFakePodman>> | undefined;
let app: FastifyInstance | undefined;
let port = 0;
let logLines: Array<Record<string, unknown>> = [];
const clients: Socket[] = [];

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  await app?.close();
  await podman?.close();
  app = undefined;
  podman = undefined;
});

async function start(env: Env = {}, profiles?: ProfileSet): Promise<void> {
  podman = await startFakePodman();
  const lines: Array<Record<string, unknown>> = [];
  logLines = lines;
  app = await buildApp({
    config: parseConfig({ PROXY_URL: podman.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'info', SHUTDOWN_GRACE: '0', ...env }),
    resolver: { watchEvents: false },
    ...(profiles === undefined ? {} : { profiles }),
    logger: {
      level: 'info',
      stream: new Writable({
        write(chunk, _encoding, done) {
          lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
          done();
        },
      }),
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
}

/** A raw client that writes `parts` one by one (a pause between them), half-closes, and reads until the end. */
async function exchange(parts: Array<string | Buffer>, pauseMs = 30, timeoutMs = 5_000, tls?: { ca: Buffer }): Promise<string> {
  const socket = tls === undefined ? connect(port, '127.0.0.1') : tlsConnect({ port, host: '127.0.0.1', ca: tls.ca, allowHalfOpen: true } as ConnectionOptions);
  clients.push(socket);
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once(tls === undefined ? 'connect' : 'secureConnect', () => resolve()));
  for (const part of parts) {
    socket.write(part);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  socket.end();
  await Promise.race([ended, new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`no end; received ${JSON.stringify(received)}`)), timeoutMs))]);
  return received;
}

const BODY = '{"Detach":false,"Tty":false,"h":0,"w":0}';
const startHead = (id: string, extra = ''): string =>
  `POST /v4.3.1/libpod/exec/${id}/start HTTP/1.1\r\nHost: d\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ${BODY.length}\r\n${extra}Accept-Encoding: gzip\r\n\r\n`;
const RAW_200 = 'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n';

describe('a plain libpod exec start through docker-sieve: stdin reaches the exec, as straight to Podman', () => {
  it('relays the head as the client sent it (no Upgrade added), the 200 as Podman wrote it, then stdin and the output', async () => {
    await start();
    const out = await exchange([startHead(EXEC) + BODY, 'hello\n', 'again\n']);
    expect(out.startsWith(RAW_200)).toBe(true);
    const stream = Buffer.from(out.slice(RAW_200.length), 'latin1');
    expect(stream).toEqual(Buffer.concat([frame(1, 'hello\n'), frame(1, 'again\n'), frame(1, 'got "hello\\nagain\\n"\n')]));
    const seen = podman!.starts[0]!;
    expect(seen.body).toBe(BODY);
    expect(seen.stdin).toBe('hello\nagain\n');
    // What Podman saw: the client's head, with the judged path and Host, and nothing added.
    expect(seen.head).toBe(`POST /v4.3.1/libpod/exec/${EXEC}/start HTTP/1.1\r\nHost: 127.0.0.1:${new URL(podman!.url).port}\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ${BODY.length}\r\nAccept-Encoding: gzip`);
    const line = logLines.find((l) => l.msg === 'request' && String(l.path).endsWith('/start'));
    expect(line).toMatchObject({ plainExecStart: true, decision: 'passed', status: 200 });
    expect(line!.upgrade).toBeUndefined();
  });

  it('on a TLS listener (TLS_CERT) too: the line is read after the handshake', async () => {
    const certs = makeTestCertificates();
    await start({ TLS_CERT: certs.serverCert, TLS_KEY: certs.serverKey });
    const out = await exchange([startHead(EXEC), BODY + 'over tls\n'], 30, 5_000, { ca: readFileSync(certs.ca) });
    expect(out.startsWith(RAW_200)).toBe(true);
    expect(podman!.starts[0]!.stdin).toBe('over tls\n');
    expect(out).toContain('got "over tls\\n"');
  });

  it.each([
    ['the request line split in two', (h: string) => [h.slice(0, 9), h.slice(9) + BODY, 'in\n']],
    ['the request line in bytes of its own', (h: string) => [...h.slice(0, 40).split('').slice(0, 12), h.slice(12) + BODY, 'in\n']],
    ['head, body and stdin in one write', (h: string) => [h + BODY + 'in\n']],
    ['the body late', (h: string) => [h, BODY, 'in\n']],
  ])('%s', async (_title, parts) => {
    await start();
    const out = await exchange(parts(startHead(EXEC)), 15);
    expect(out.startsWith(RAW_200)).toBe(true);
    expect(podman!.starts[0]!.body).toBe(BODY);
    expect(podman!.starts[0]!.stdin).toBe('in\n');
  });

  it('an exec of a hidden container: Podman\'s missing exec, nothing forwarded, stdin goes nowhere', async () => {
    await start();
    const out = await exchange([startHead(HIDDEN_EXEC) + BODY, 'secret-stdin\n']);
    expect(out).toMatch(/^HTTP\/1\.1 404 /);
    expect(out).toContain('Connection: close');
    expect(podman!.starts).toEqual([]);
    expect(podman!.requests.filter((r) => r.includes('/start'))).toEqual([]);
  });

  it('a read-only profile: refused before anything is forwarded', async () => {
    const file = parseConfigFile('default: reader\nprofiles:\n  reader: { names: [web], access: read }\n', 'sieve.yaml');
    await start({}, fileProfileSet(file, resolveTokens(file.clients, { readFile: () => '', env: {} })));
    const out = await exchange([startHead(EXEC) + BODY, 'x\n']);
    expect(out).toMatch(/^HTTP\/1\.1 403 /);
    expect(podman!.starts).toEqual([]);
  });

  it('a client that upgrades by itself keeps its own Upgrade, and gets the 101', async () => {
    await start();
    const out = await exchange([startHead(EXEC, 'Connection: Upgrade\r\nUpgrade: tcp\r\n') + BODY, 'hi\n']);
    expect(out).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/);
    expect(podman!.starts[0]!.head).toMatch(/\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n/);
    expect(podman!.starts[0]!.head.match(/Upgrade: tcp/g)).toHaveLength(1);
  });

  it('only the first request of a connection: a later plain start on the same connection goes the HTTP route (output only)', async () => {
    await start();
    const ping = 'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n';
    const out = await exchange([ping, startHead(EXEC) + BODY]);
    expect(out.startsWith('HTTP/1.1 ')).toBe(true);
    const line = logLines.find((l) => l.msg === 'request' && String(l.path).endsWith('/start'));
    expect(line?.plainExecStart).toBeUndefined();
  });

  it('other first requests are untouched: a pipelined pair is answered twice, in order', async () => {
    await start();
    const list = await exchange([`GET /v4.3.1/libpod/containers/${WEB.Id}/json HTTP/1.1\r\nHost: d\r\n\r\nGET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`]);
    expect(list.match(/HTTP\/1\.1 [0-9]{3} /g)).toEqual(['HTTP/1.1 200 ', 'HTTP/1.1 404 ']);
    expect(list).toContain(WEB.Id);
    expect(logLines.some((l) => l.plainExecStart === true)).toBe(false);
  });

  it('a connection that closes before a whole request line is dropped; a late first line is served as Node serves it; a slow head still gets its 408', async () => {
    await start({ CLIENT_HEADERS_TIMEOUT: '0.3' });
    expect(await exchange(['POST /v4.3.1/libpod/exec/'])).toBe('');
    // Nothing for longer than the headers timeout: handed to Node as it is, which serves it when it comes.
    const late = await exchange(['', 'GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n'], 500);
    expect(late).toMatch(/^HTTP\/1\.1 404 /); // the fake Podman has no _ping: its answer, relayed
    // A start whose head never ends: Node's headers timeout answers, as it does for any slow head.
    const slow = connect(port, '127.0.0.1');
    clients.push(slow);
    slow.on('error', () => {});
    let received = '';
    slow.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    slow.write(`POST /v4.3.1/libpod/exec/${EXEC}/start HTTP/1.1\r\nHost: d\r\n`);
    await new Promise<void>((resolve) => slow.once('close', () => resolve()));
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(podman!.starts).toEqual([]);
  });
});
