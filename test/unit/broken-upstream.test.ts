// A deliberately broken upstream list over real HTTP on loopback: a 502 while the status can still change, a
// cut connection once the first element is out, and never a byte of a hidden container.
import { Writable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config.js';
import { DAEMON_HEADERS, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const entry = (name: string) => JSON.stringify({ Id: name.replace(/\W/g, '').padEnd(64, '0'), Names: [name], Labels: {}, State: 'running' });
const WEB_1 = entry('/web-1');
const WEB_2 = entry('/web-2');
const HIDDEN = entry('/db-hidden');
const HIDDEN_2 = entry('/db-secret');
const INVALID = 'upstream sent an invalid container list';

let upstream: FakeUpstream;
let app: FastifyInstance;
let base: string;
let logLines: Array<Record<string, unknown>>;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  logLines = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  app = await buildApp({
    config: parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'info' }),
    resolver: { watchEvents: false },
    logger: { level: 'info', stream },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

afterEach(async () => {
  await app.close();
  await upstream.close();
});

function startList(res: ServerResponse): void {
  res.writeHead(200, { ...DAEMON_HEADERS, 'content-type': 'application/json' });
  res.flushHeaders();
}

/** Answers the list with `body` in one piece, then ends or cuts the connection. */
function listAnswer(body: string, end: 'end' | 'cut'): void {
  upstream.on('GET', /\/containers\/json$/, (_r, res) => {
    startList(res);
    if (end === 'end') res.end(body);
    else res.write(body, () => setTimeout(() => res.socket?.destroy(), 50));
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The request's log line, once it is written (after the response). */
async function requestLogLine(): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50 && !logLines.some((l) => l.msg === 'request'); i++) await new Promise((r) => setTimeout(r, 10));
  return logLines.find((l) => l.msg === 'request')!;
}

describe('a broken upstream list before the first element is complete', () => {
  it.each([
    ['garbage', 'this is <not> json', 'end', /expected a JSON array/],
    ['an empty body', '', 'end', /the answer is empty/],
    ['an object instead of an array', '{"message":"x"}', 'end', /expected a JSON array/],
    ['a cut inside the first element', `[${WEB_1.slice(0, 40)}`, 'cut', /./],
    ['a cut right after the opening bracket', '[', 'cut', /./],
  ] as const)('answers %s with a Docker-style 502, decision upstream-error', async (_title, body, end, detail) => {
    listAnswer(body, end);
    const response = await request(`${base}/v1.41/containers/json?all=1`);
    expect(response.statusCode).toBe(502);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['api-version']).toBe('1.41');
    const { message } = (await response.body.json()) as { message: string };
    expect(message.startsWith(`docker-sieve: ${INVALID}: `)).toBe(true);
    expect(message).toMatch(detail);
    const line = await requestLogLine();
    expect(line).toMatchObject({ status: 502, decision: 'upstream-error' });
  });

  it('answers in plain text for API 1.23 and below', async () => {
    listAnswer('this is <not> json', 'end');
    const response = await request(`${base}/v1.23/containers/json`);
    expect(response.statusCode).toBe(502);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(await response.body.text()).toMatch(new RegExp(`^docker-sieve: ${INVALID}: .+\n$`));
  });

  it('aborts the upstream request when the client goes away before the status is committed', async () => {
    const upstreamClosed = deferred();
    upstream.on('GET', '/containers/json', (_r, res) => {
      startList(res);
      res.write(`[${WEB_1.slice(0, 40)}`); // and nothing more
      res.on('close', upstreamClosed.resolve);
    });
    const abort = new AbortController();
    const pending = request(`${base}/containers/json`, { signal: abort.signal });
    await new Promise((r) => setTimeout(r, 100));
    abort.abort();
    await expect(pending).rejects.toThrow();
    await Promise.race([upstreamClosed.promise, new Promise((_r, reject) => setTimeout(() => reject(new Error('upstream still open')), 2000))]);
  });
});

describe('a broken upstream list after the first element', () => {
  it('cuts a 200 after the third element: the visible ones sent before are there, no hidden byte ever is', async () => {
    const clientHasWeb2 = deferred();
    upstream.on('GET', '/containers/json', async (_r, res) => {
      startList(res);
      res.write(`[${WEB_1},${HIDDEN},${WEB_2},`);
      await clientHasWeb2.promise;
      res.write(HIDDEN_2.slice(0, 50), () => res.socket?.destroy());
    });
    const response = await request(`${base}/containers/json`);
    expect(response.statusCode).toBe(200);
    let received = '';
    let failure: unknown;
    try {
      for await (const chunk of response.body) {
        received += (chunk as Buffer).toString('utf8');
        if (received.includes('/web-2')) clientHasWeb2.resolve();
      }
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(Error);
    expect(received).toBe(`[${WEB_1},${WEB_2}`);
    expect(received).not.toContain('db-');
  });

  it('is committed by a hidden first element too: a garbage rest then cuts the 200', async () => {
    listAnswer(`[${HIDDEN},this is <not> json`, 'end');
    const response = await request(`${base}/containers/json`);
    expect(response.statusCode).toBe(200);
    await expect(response.body.text()).rejects.toThrow();
  });
});

describe('a valid list still streams', () => {
  it.each([
    ['visible', WEB_1, WEB_1],
    ['hidden', HIDDEN, ''],
  ])('the status and what is known go out at the first complete element (%s), before the upstream is done', async (_kind, first, out) => {
    const release = deferred();
    upstream.on('GET', '/containers/json', async (_r, res) => {
      startList(res);
      res.write(`[${first},`);
      await release.promise;
      res.end(`${WEB_2}]\n`);
    });
    const response = await request(`${base}/containers/json`);
    expect(response.statusCode).toBe(200);
    const reader = response.body[Symbol.asyncIterator]();
    let received = ((await reader.next()).value as Buffer).toString('utf8');
    if (out !== '') {
      while (!received.includes(out)) received += ((await reader.next()).value as Buffer).toString('utf8');
    }
    expect(received).toBe(`[${out}`);
    release.resolve();
    for (let next = await reader.next(); !next.done; next = await reader.next()) received += (next.value as Buffer).toString('utf8');
    expect(received).toBe(out === '' ? `[${WEB_2}]\n` : `[${WEB_1},${WEB_2}]\n`);
    expect(await requestLogLine()).toMatchObject({ status: 200, decision: out === '' ? 'filtered kept 1 of 2' : 'filtered kept 2 of 2' });
  });

  it('answers an empty array with a 200', async () => {
    listAnswer('[]\n', 'end');
    const response = await request(`${base}/containers/json`);
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('[]\n');
  });
});
