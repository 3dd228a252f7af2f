// The real chain: dockerd → HAProxy socket proxy → docker-sieve → the docker CLI and dockerode.
import { afterAll, beforeAll, expect, it } from 'vitest';
import Docker from 'dockerode';
import { request } from 'undici';
import {
  docker,
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

const FILTERS = { CONTAINER_NAMES: 'core-web', CONTAINER_LABELS: 'homepage.group=Media' };
const NAMES = ['core-web-a', 'core-web-b', 'core-job', 'core-db', 'core-r3', 'core-reuse', 'core-last-hidden'];

describeIntegration('core: docker CLI and dockerode through docker-sieve and HAProxy', () => {
  let proxy: SocketProxy;
  let sieve: RunningSieve;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    await removeContainers(NAMES);
    ids['core-web-a'] = await runContainer({
      name: 'core-web-a',
      labels: { 'homepage.group': 'Media' },
      env: { SECRET: 'hunter2' },
      cmd: ['sh', '-c', 'echo web-a says hello; exec sleep 3600'],
    });
    ids['core-web-b'] = await runContainer({ name: 'core-web-b' });
    // Visible by label, exited.
    ids['core-job'] = await runContainer({ name: 'core-job', labels: { 'homepage.group': 'Media' }, cmd: ['true'], detach: false });
    ids['core-db'] = await runContainer({
      name: 'core-db',
      labels: { tier: 'db' },
      env: { POSTGRES_PASSWORD: 'hunter2' },
      cmd: ['sh', '-c', 'echo db secret log line; exec sleep 3600'],
    });
    // core-r3 links core-db as `web`: /core-r3/web appears in core-db's Names and must not make it visible.
    ids['core-r3'] = await runContainer({ name: 'core-r3', labels: { tier: 'db' }, extraArgs: ['--link', 'core-db:core-web'] });
    // Created last and hidden: `docker ps -n 1` through the daemon would show it.
    ids['core-last-hidden'] = await runContainer({ name: 'core-last-hidden', cmd: ['true'], detach: false });
    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1', EVENTS: '1', VERSION: '1', PING: '1', NETWORKS: '0' });
    sieve = await startSieve({ PROXY_URL: proxy.url, ...FILTERS });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await proxy?.stop();
    await removeContainers(NAMES);
  });

  it('docker ps shows only visible running containers', async () => {
    const out = await dockerOk(['ps', '--format', '{{.Names}}'], { host: sieve.host });
    expect(out.split('\n').filter(Boolean).sort()).toEqual(['core-web-a', 'core-web-b']);
  });

  it('docker ps -a adds visible stopped containers and nothing hidden', async () => {
    const out = await dockerOk(['ps', '-a', '--format', '{{.Names}}'], { host: sieve.host });
    const names = out.split('\n').filter((n) => n.startsWith('core-'));
    expect(names.sort()).toEqual(['core-job', 'core-web-a', 'core-web-b']);
  });

  it('docker ps -n 1 applies the limit after filtering', async () => {
    const direct = await dockerOk(['ps', '-n', '1', '--format', '{{.Names}}']);
    expect(direct.trim()).toBe('core-last-hidden');
    const out = await dockerOk(['ps', '-n', '1', '--format', '{{.Names}}'], { host: sieve.host });
    expect(out.trim()).toBe('core-job');
  });

  it.each([
    ['name', () => 'core-web-a'],
    ['full ID', () => ids['core-web-a']!],
    ['12-char prefix', () => ids['core-web-a']!.slice(0, 12)],
  ])('docker inspect of a visible container by %s works', async (_how, ref) => {
    const out = await dockerOk(['inspect', '--type', 'container', '--format', '{{.Name}} {{.Id}}', ref()], { host: sieve.host });
    expect(out.trim()).toBe(`/core-web-a ${ids['core-web-a']}`);
  });

  it.each([
    ['name', () => 'core-db'],
    ['full ID', () => ids['core-db']!],
    ['12-char prefix', () => ids['core-db']!.slice(0, 12)],
    ['legacy link alias naming a visible-looking ref', () => 'core-r3/core-web'],
  ])('docker inspect of a hidden container by %s fails as if it did not exist', async (_how, ref) => {
    const result = await docker(['inspect', '--type', 'container', ref()], { host: sieve.host });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/No such (object|container)/);
    expect(result.stdout.trim()).toBe('[]');
    expect(result.stdout + result.stderr).not.toContain('hunter2');
    // The client may echo its own ref; nothing else about the container may come back.
    if (ref() !== ids['core-db']) expect(result.stdout + result.stderr).not.toContain(ids['core-db']!);
  });

  it('docker logs works for a visible container and fails for a hidden one', async () => {
    const visible = await docker(['logs', 'core-web-a'], { host: sieve.host });
    expect(visible.code).toBe(0);
    expect(visible.stdout).toContain('web-a says hello');
    const hidden = await docker(['logs', 'core-db'], { host: sieve.host });
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toContain('No such container: core-db');
    expect(hidden.stdout + hidden.stderr).not.toContain('db secret log line');
  });

  it('docker version passes through', async () => {
    const out = await dockerOk(['version', '--format', '{{.Server.APIVersion}}'], { host: sieve.host });
    expect(out.trim()).toMatch(/^1\.\d+$/);
  });

  it('a 403 from the socket proxy reaches the client unchanged', async () => {
    const result = await docker(['network', 'ls'], { host: sieve.host });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/403 Forbidden/);
    const direct = await request(`${proxy.url}/v1.41/networks`);
    const through = await request(`http://127.0.0.1:${sieve.port}/v1.41/networks`);
    expect(through.statusCode).toBe(403);
    expect(await through.body.text()).toBe(await direct.body.text());
  });

  it('HEAD /_ping returns the daemon headers and no body, with and without a version', async () => {
    for (const path of ['/_ping', '/v1.41/_ping']) {
      const response = await request(`http://127.0.0.1:${sieve.port}${path}`, { method: 'HEAD', headersTimeout: 2000 });
      expect(response.statusCode).toBe(200);
      expect(response.headers['api-version']).toMatch(/^1\.\d+$/);
      expect(response.headers.ostype).toBe('linux');
      expect(response.headers['docker-experimental']).toBeDefined();
      expect(await response.body.text()).toBe('');
    }
  });

  it('a hidden container is never touched: POST kill through docker-sieve is refused before forwarding', async () => {
    const writable = await startSocketProxy(dockerSock(), { CONTAINERS: '1', POST: '1' });
    const rw = await startSieve({ PROXY_URL: writable.url, ...FILTERS });
    try {
      const result = await docker(['kill', 'core-db'], { host: rw.host });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('No such container: core-db');
      const state = await dockerOk(['inspect', '--format', '{{.State.Running}}', 'core-db']);
      expect(state.trim()).toBe('true');
    } finally {
      await rw.app.close();
      await writable.stop();
    }
  });

  it('Homepage-style sequence with dockerode: list, inspect by name, stats once', async () => {
    const client = new Docker({ host: '127.0.0.1', port: sieve.port, protocol: 'http' });
    const list = await client.listContainers({ all: true });
    const names = list.map((c) => c.Names.find((n) => n.lastIndexOf('/') === 0)).filter((n) => n?.startsWith('/core-'));
    expect(names.sort()).toEqual(['/core-job', '/core-web-a', '/core-web-b']);
    const inspect = await client.getContainer('core-web-a').inspect();
    expect(inspect.Id).toBe(ids['core-web-a']);
    expect(inspect.Config.Env).toContain('SECRET=hunter2');
    const stats = (await client.getContainer('core-web-a').stats({ stream: false })) as unknown as { memory_stats: unknown; read: string };
    expect(stats.memory_stats).toBeDefined();
    expect(typeof stats.read).toBe('string');
    const hidden = await client.getContainer('core-db').inspect().then(
      () => undefined,
      (error: { statusCode?: number; message: string }) => error,
    );
    expect(hidden?.statusCode).toBe(404);
    expect(hidden?.message).toContain('No such container: core-db');
  });

  it('SCRUB_ENVS=true blanks Config.Env in inspect and keeps the rest', async () => {
    const scrubbing = await startSieve({ PROXY_URL: proxy.url, ...FILTERS, SCRUB_ENVS: 'true' });
    try {
      const client = new Docker({ host: '127.0.0.1', port: scrubbing.port, protocol: 'http' });
      const scrubbed = await client.getContainer('core-web-a').inspect();
      const plain = await new Docker({ socketPath: dockerSock() }).getContainer('core-web-a').inspect();
      expect(scrubbed.Config.Env).toEqual([]);
      expect({ ...scrubbed, Config: { ...scrubbed.Config, Env: null }, State: null }).toEqual({
        ...plain,
        Config: { ...plain.Config, Env: null },
        State: null,
      });
    } finally {
      await scrubbing.app.close();
    }
  });

  it.each([
    ['with events (mappings invalidated at once)', { EVENTS: '1' }],
    ['without events (mappings live 2 s)', { EVENTS: '0' }],
  ])('a name reused by a hidden container never shows that container, %s', async (_how, proxyEnv) => {
    const chain = await startSocketProxy(dockerSock(), { CONTAINERS: '1', ...proxyEnv });
    const reuse = await startSieve({ PROXY_URL: chain.url, ...FILTERS });
    try {
      await removeContainers(['core-reuse']);
      await runContainer({ name: 'core-reuse', labels: { 'homepage.group': 'Media' } });
      const client = new Docker({ host: '127.0.0.1', port: reuse.port, protocol: 'http' });
      expect((await client.getContainer('core-reuse').inspect()).Config.Labels).toEqual({ 'homepage.group': 'Media' });
      await removeContainers(['core-reuse']);
      const hiddenId = await runContainer({ name: 'core-reuse', labels: { other: 'x' }, env: { TOKEN: 'hunter2' } });
      // Ask at once, inside any cache window.
      const response = await request(`http://127.0.0.1:${reuse.port}/containers/core-reuse/json`);
      const body = await response.body.text();
      expect(response.statusCode).toBe(404);
      expect(JSON.parse(body)).toEqual({ message: 'No such container: core-reuse' });
      expect(body).not.toContain(hiddenId);
      const logs = await docker(['logs', 'core-reuse'], { host: reuse.host });
      expect(logs.code).not.toBe(0);
    } finally {
      await reuse.app.close();
      await chain.stop();
      await removeContainers(['core-reuse']);
    }
  });
});
