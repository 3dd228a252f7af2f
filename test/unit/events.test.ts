// The events filter on events recorded from a real dockerd, and the events route as a live stream.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { eventSubject, filterEvents } from '../../src/filters/events.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { parseLabelRules, parseList, parseConfig } from '../../src/config.js';
import { buildApp } from '../../src/app.js';
import type { Resolver } from '../../src/upstream/resolver.js';
import { DAEMON_HEADERS, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const recorded = readFileSync(new URL('../../fixtures/events.v1.41.ndjson', import.meta.url));
const events = recorded.toString('utf8').trim().split('\n').map((line) => JSON.parse(line));
const idOf = (name: string) => events.find((e) => e.Type === 'container' && e.Actor.Attributes.name === name).Actor.ID as string;

/** A resolver that knows nothing: anything not judged from the stream itself is dropped. */
const unknownResolver = {
  resolveContainerRef: async () => ({ kind: 'missing' as const }),
} as unknown as Resolver;

async function run(chunks: Buffer[], names: string, labels = '', resolver = unknownResolver): Promise<string> {
  const policy = compilePolicy({ names: parseList(names), labels: parseLabelRules(labels) });
  return text(Readable.from(chunks).pipe(filterEvents(policy, resolver, { kept: 0, seen: 0 })));
}

function summarize(output: string): string[] {
  return output
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const e = JSON.parse(line.replace(/^\x1e/, ''));
      return `${e.Type} ${e.Action.split(':')[0]} ${e.Actor.Attributes.name ?? ''}`.trim();
    });
}

describe('eventSubject', () => {
  it('reads a container event: name, and labels without the attributes the daemon adds', () => {
    const exec = events.find((e) => e.Action === 'exec_die');
    expect(eventSubject(exec)).toEqual({
      kind: 'container',
      id: idOf('web-a'),
      name: 'web-a',
      labels: { 'com.example.visible': 'true', 'homepage.group': 'Media', 'homepage.name': 'Web A', 'traefik.enable': 'true' },
    });
  });

  it('reads a network event about a container', () => {
    const connect = events.find((e) => e.Type === 'network');
    expect(eventSubject(connect)).toEqual({ kind: 'container-ref', id: connect.Actor.Attributes.container });
  });

  it.each([
    ['image', { Type: 'image', Action: 'tag', Actor: { ID: 'sha256:x', Attributes: { name: 'local/busybox:1' } } }],
    ['network create', { Type: 'network', Action: 'create', Actor: { ID: 'n', Attributes: { name: 'n', type: 'bridge' } } }],
    ['daemon', { Type: 'daemon', Action: 'reload', Actor: { ID: 'd', Attributes: {} } }],
    ['volume create', { Type: 'volume', Action: 'create', Actor: { ID: 'v', Attributes: { driver: 'local' } } }],
  ])('%s events are about no container', (_title, event) => {
    expect(eventSubject(event)).toEqual({ kind: 'none' });
  });
});

describe('filterEvents on recorded events', () => {
  it('keeps image events, visible containers, and network events about containers seen on the stream', async () => {
    expect(summarize(await run([recorded], 'web'))).toEqual([
      'image tag local/busybox:1',
      'image import sha256:65d5a48ca3384012b4ecfeb55bf3d0145739c7ce29eb9e5072ff6dc6d9957cef',
      'container create web-a',
      'network connect none',
      'container start web-a',
      'container create web-b',
      'network connect none',
      'container start web-b',
      'container exec_create web-a',
      'container exec_start web-a',
      'container exec_die web-a',
    ]);
  });

  it('judges labels from the attributes, never the daemon-added keys', async () => {
    const output = summarize(await run([recorded], '', 'homepage.group=Media'));
    expect(output.filter((line) => line.startsWith('container')).every((line) => line.endsWith('web-a'))).toBe(true);
    // `image` is an attribute the daemon adds, not a label: it must not make every container visible.
    expect(summarize(await run([recorded], '', 'image')).filter((l) => l.startsWith('container'))).toEqual([]);
    // `exitCode` likewise.
    expect(summarize(await run([recorded], '', 'exitCode')).filter((l) => l.startsWith('container'))).toEqual([]);
  });

  it('asks the resolver about a network event whose container it has not seen, and drops it if hidden or unknown', async () => {
    const dbId = idOf('db-hidden');
    const webId = idOf('web-b');
    const networkOnly = events.filter((e) => e.Type === 'network').map((e) => `${JSON.stringify(e)}\n`).join('');
    const asked: string[] = [];
    const resolver = {
      async resolveContainerRef(ref: string) {
        asked.push(ref);
        if (ref === webId) return { kind: 'found', container: { id: webId, name: '/web-b', labels: {}, visible: true } };
        if (ref === dbId) return { kind: 'found', container: { id: dbId, name: '/db-hidden', labels: {}, visible: false } };
        throw new Error('upstream down');
      },
    } as unknown as Resolver;
    const output = await run([Buffer.from(networkOnly)], 'web', '', resolver);
    const kept = output.trim().split('\n').map((line) => JSON.parse(line).Actor.Attributes.container);
    expect(kept).toEqual([webId]);
    expect(asked).toContain(dbId);
  });

  it('gives the same output for every split of the input into two chunks', async () => {
    const whole = await run([recorded], 'web');
    for (let at = 1; at < recorded.length; at += 7) {
      const output = await run([recorded.subarray(0, at), recorded.subarray(at)], 'web');
      if (output !== whole) throw new Error(`split at ${at} changed the output`);
    }
  });

  it('emits kept events byte for byte, json-seq separators included', async () => {
    const seq = Buffer.from(events.map((e) => `\x1e${JSON.stringify(e)}\n`).join(''));
    const output = await run([seq], 'web');
    expect(output.startsWith('\x1e')).toBe(true);
    for (const record of output.split('\x1e').filter(Boolean)) expect(seq.toString()).toContain(record);
    expect(summarize(output)).toHaveLength(11);
  });

  it('errors on a malformed event rather than pass it', async () => {
    await expect(run([Buffer.from('{"Type":"container","Actor":{"Attributes":{"name":"db"\n')], 'web')).rejects.toThrow();
  });
});

describe('GET /events through the app', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance;

  afterEach(async () => {
    await app?.close();
    await upstream?.close();
  });

  async function start(): Promise<number> {
    app = await buildApp({
      config: parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent' }),
      resolver: { watchEvents: false },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return (app.server.address() as { port: number }).port;
  }

  it('sends headers at once, each event as it arrives, and closes the upstream when the client goes away', async () => {
    upstream = await startFakeUpstream();
    let upstreamClosed: (() => void) | undefined;
    const closed = new Promise<number>((resolve) => {
      upstreamClosed = () => resolve(Date.now());
    });
    let write: ((line: string) => void) | undefined;
    upstream.on('GET', '/v1.41/events', (_r, res) => {
      res.writeHead(200, { ...DAEMON_HEADERS, 'content-type': 'application/json' });
      res.flushHeaders();
      write = (line) => res.write(line);
      res.on('close', () => upstreamClosed!());
    });
    const port = await start();
    const response = await request(`http://127.0.0.1:${port}/v1.41/events?filters=%7B%7D`, { headersTimeout: 2000 });
    // No event yet, and the headers are here.
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['content-length']).toBeUndefined();
    const reader = response.body[Symbol.asyncIterator]();
    const hidden = events.find((e) => e.Actor.Attributes.name === 'db-hidden');
    const visible = events.find((e) => e.Actor.Attributes.name === 'web-a');
    write!(`${JSON.stringify(hidden)}\n`);
    write!(`${JSON.stringify(visible)}\n`);
    const first = await reader.next();
    expect((first.value as Buffer).toString()).toBe(`${JSON.stringify(visible)}\n`);
    write!(`${JSON.stringify(visible).slice(0, 20)}`);
    write!(`${JSON.stringify(visible).slice(20)}\n`);
    const second = await reader.next();
    expect((second.value as Buffer).toString()).toBe(`${JSON.stringify(visible)}\n`);
    const abortedAt = Date.now();
    response.body.destroy();
    expect((await closed) - abortedAt).toBeLessThan(1000);
  });
});
