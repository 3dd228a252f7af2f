// A daemon's error answer to a judged request names no hidden container (src/gates/error-answer.ts): tables for
// the pure part, and the routes on a loopback upstream scripted with the answers dockerd 20.10 and Podman 4.3
// gave on the real thing.
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config.js';
import { fullIdsIn, HIDDEN_ID_MARK } from '../../src/gates/error-answer.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const WEB = 'a'.repeat(64);
const DB = 'd'.repeat(64);
const IMAGE = 'e'.repeat(64);

describe('fullIdsIn', () => {
  it.each<[string, string[]]>([
    ['no ID here', []],
    [`in use by container "${DB}". You have`, [DB]],
    [`${WEB} has dependent containers: ${DB},${DB}`, [WEB, DB]],
    [`sha256:${IMAGE}`, [IMAGE]],
    [`a run of 65: ${DB}d`, []],
    [`upper case is not an ID: ${DB.toUpperCase()}`, []],
    [`short: ${DB.slice(0, 12)}`, []],
  ])('%s', (text, ids) => {
    expect(fullIdsIn(text)).toEqual(ids);
  });
});

describe('error answers of judged requests', () => {
  let app: FastifyInstance | undefined;
  let upstream: FakeUpstream | undefined;
  afterEach(async () => {
    await app?.close();
    await upstream?.close();
    app = undefined;
    upstream = undefined;
  });

  async function build(): Promise<{ app: FastifyInstance; upstream: FakeUpstream }> {
    upstream = await startFakeUpstream();
    for (const [id, name] of [[WEB, '/web-a'], [DB, '/db']] as const) {
      const inspect = json(200, { Id: id, Name: name, Config: { Labels: {} } });
      upstream.on('GET', `/containers/${name.slice(1)}/json`, inspect);
      upstream.on('GET', `/containers/${id}/json`, inspect);
      upstream.on('GET', `/v4.0.0/libpod/containers/${id}/json`, inspect);
      upstream.on('GET', `/v4.0.0/libpod/containers/${name.slice(1)}/json`, inspect);
    }
    app = await buildApp({ config: parseConfig({ LOG_LEVEL: 'silent', CONTAINER_NAMES: 'web', PROXY_URL: upstream.url }), resolver: { watchEvents: false } });
    return { app, upstream };
  }

  const conflict = (id: string) => `Conflict. The container name "/db" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`;

  it('create?name= held by a hidden container: the daemon\'s 409 with the holder written as the mark', async () => {
    const { app, upstream } = await build();
    upstream.on('POST', '/v1.41/containers/create', json(409, { message: conflict(DB) }));
    const response = await app.inject({ method: 'POST', url: '/v1.41/containers/create?name=db', payload: { Image: 'busybox' } });
    expect(response.statusCode).toBe(409);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.json()).toEqual({ message: conflict(HIDDEN_ID_MARK) });
    expect(response.body).not.toContain(DB);
  });

  it('rename?name= held by a hidden container: the same, and the renamed (visible) container keeps its ID', async () => {
    const { app, upstream } = await build();
    const message = `Error when allocating new name: ${conflict(DB)} (renaming ${WEB})`;
    upstream.on('POST', `/v1.41/containers/${WEB}/rename`, json(409, { message }));
    const response = await app.inject({ method: 'POST', url: '/v1.41/containers/web-a/rename?name=db' });
    expect(response.statusCode).toBe(409);
    expect(response.json().message).toBe(`Error when allocating new name: ${conflict(HIDDEN_ID_MARK)} (renaming ${WEB})`);
  });

  it('a name held by a visible container, and an ID that is no container: the daemon\'s answer as it came', async () => {
    const { app, upstream } = await build();
    upstream.on('POST', '/v1.41/containers/create', json(409, { message: `${conflict(WEB)} sha256:${IMAGE}` }));
    const response = await app.inject({ method: 'POST', url: '/v1.41/containers/create?name=web-a', payload: { Image: 'busybox' } });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({ message: `${conflict(WEB)} sha256:${IMAGE}` });
  });

  it("Podman's forced removal with a hidden dependent: its ID written as the mark", async () => {
    const { app, upstream } = await build();
    const message = (dep: string) => `container ${WEB} has dependent containers which must be removed before it: ${dep}: container already exists`;
    upstream.on('DELETE', `/v4.3.1/libpod/containers/${WEB}`, json(500, { cause: 'container already exists', message: message(DB), response: 500 }));
    const response = await app.inject({ method: 'DELETE', url: '/v4.3.1/libpod/containers/web-a?force=true' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ cause: 'container already exists', message: message(HIDDEN_ID_MARK), response: 500 });
  });

  it('a 404 after the judgement still names the ref the client sent', async () => {
    const { app, upstream } = await build();
    upstream.on('GET', `/v1.41/containers/${WEB}/logs`, json(404, { message: `No such container: ${WEB}` }));
    const response = await app.inject({ method: 'GET', url: '/v1.41/containers/web-a/logs?stdout=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'No such container: web-a' });
  });

  it('a success streams on untouched, IDs and all', async () => {
    const { app, upstream } = await build();
    upstream.on('POST', '/v1.41/containers/create', json(201, { Id: DB, Warnings: [] }));
    const response = await app.inject({ method: 'POST', url: '/v1.41/containers/create?name=new', payload: { Image: 'busybox' } });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ Id: DB, Warnings: [] });
  });
});
