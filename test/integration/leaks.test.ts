// Endpoints that reveal other containers (issue 3), through the real chain: dockerd → HAProxy → docker-sieve →
// the docker CLI and raw HTTP. Each check also looks at the daemon's own answer, so that a hidden container
// missing from docker-sieve's answer proves a filter, not an empty scene.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { request } from 'undici';
import {
  BUSYBOX_IMAGE,
  docker,
  dockerOk,
  dockerSock,
  freePort,
  removeContainers,
  requireIntegration,
  runContainer,
  startSieve,
  startSocketProxy,
  type RunningSieve,
  type SocketProxy,
} from './harness/index.js';

const describeIntegration = requireIntegration();

const FILTERS = { CONTAINER_NAMES: 'lk-web', CONTAINER_LABELS: 'lk.visible=yes' };
const NAMES = ['lk-web-a', 'lk-lab', 'lk-web-job', 'lk-db', 'lk-db-exited'];
const VISIBLE = ['lk-lab', 'lk-web-a', 'lk-web-job'];
const HIDDEN = ['lk-db', 'lk-db-exited'];

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await request(url);
  return { status: response.statusCode, body: await response.body.text() };
}

/** The NAMES column of the containers table in `docker system df -v` output. */
function dfContainerNames(output: string): string[] {
  const start = output.indexOf('Containers space usage:');
  const end = output.indexOf('Local Volumes space usage:');
  expect(start).toBeGreaterThanOrEqual(0);
  const lines = output.slice(start, end === -1 ? undefined : end).split('\n').filter((line) => line.trim() !== '');
  // The title, the column header, then one line per container; NAMES is the last column.
  expect(lines[1]).toMatch(/^CONTAINER ID .* NAMES$/);
  return lines.slice(2).map((line) => line.trim().split(/\s+/).at(-1)!);
}

describeIntegration('leaks: system df, networks', () => {
  let proxy: SocketProxy;
  let sieve: RunningSieve;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    await removeContainers(NAMES);
    ids['lk-web-a'] = await runContainer({ name: 'lk-web-a', env: { SECRET: 'hunter2' } });
    // Visible by its label only: the network map has names, so the decision needs the resolver's labels.
    ids['lk-lab'] = await runContainer({ name: 'lk-lab', labels: { 'lk.visible': 'yes' } });
    ids['lk-web-job'] = await runContainer({ name: 'lk-web-job', cmd: ['true'], detach: false });
    ids['lk-db'] = await runContainer({ name: 'lk-db', labels: { 'lk.visible': 'no' }, env: { POSTGRES_PASSWORD: 'hunter2' } });
    ids['lk-db-exited'] = await runContainer({ name: 'lk-db-exited', labels: { 'lk.visible': 'no' }, cmd: ['true'], detach: false });
    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1', SYSTEM: '1', NETWORKS: '1', VERSION: '1', PING: '1', EVENTS: '1' });
    sieve = await startSieve({ PROXY_URL: proxy.url, ...FILTERS });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await proxy?.stop();
    await removeContainers(NAMES);
  });

  // `before` and `since` make the daemon look a container up: a hidden one's name must get the answer a missing
  // one gets, or the list would say that it exists and when it was created.
  const listWith = (base: string, filters: unknown) => get(`${base}/v1.41/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify(filters))}`);
  const forms: Array<[string, (key: string, name: string) => unknown]> = [
    ['list form', (key, name) => ({ [key]: [name] })],
    ['map form', (key, name) => ({ [key]: { [name]: true } })],
  ];

  it.each(['before', 'since'].flatMap((key) => forms.map(([form, make]) => [key, form, make] as const)))(
    'GET /containers/json with %s naming a hidden container (%s): the answer straight for a missing one',
    async (key, _form, make) => {
      const hiddenStraight = await listWith(proxy.url, make(key, 'lk-db'));
      const missingStraight = await listWith(proxy.url, make(key, 'lk-nope'));
      // The daemon's oracle, which docker-sieve must not pass on.
      expect(hiddenStraight.status).toBe(200);
      expect(missingStraight.status).toBeGreaterThanOrEqual(400);
      const through = await listWith(sieve.url, make(key, 'lk-db'));
      expect(through.status).toBe(missingStraight.status);
      expect(through.body).toBe(missingStraight.body.replaceAll('lk-nope', 'lk-db'));
      // By ID and by ID prefix too.
      for (const ref of [ids['lk-db']!, ids['lk-db']!.slice(0, 12)]) {
        const missingId = await listWith(proxy.url, make(key, 'f'.repeat(ref.length)));
        const byId = await listWith(sieve.url, make(key, ref));
        expect(byId.status).toBe(missingId.status);
        expect(byId.body).toBe(missingId.body.replaceAll('f'.repeat(ref.length), ref));
      }
    },
  );

  it('GET /containers/json with before/since naming a visible container: the visible part of the daemon\'s answer', async () => {
    const names = (body: string) => (JSON.parse(body) as Array<{ Names: string[] }>).map((c) => c.Names[0]!.slice(1)).filter((n) => n.startsWith('lk-')).sort();
    for (const filters of [{ since: ['lk-web-a'] }, { before: { 'lk-web-job': true } }, { since: [ids['lk-web-a']!] }]) {
      const straight = await listWith(proxy.url, filters);
      const through = await listWith(sieve.url, filters);
      expect(straight.status).toBe(200);
      expect(through.status).toBe(200);
      expect(names(through.body)).toEqual(names(straight.body).filter((n) => VISIBLE.includes(n)));
      expect(names(straight.body).length).toBeGreaterThan(0);
    }
    // dockerd takes no ID prefix here: a visible container's prefix gets the daemon's own error, as straight.
    const prefix = { since: [ids['lk-lab']!.slice(0, 12)] };
    const straightPrefix = await listWith(proxy.url, prefix);
    expect(straightPrefix.status).toBeGreaterThanOrEqual(400);
    expect(await listWith(sieve.url, prefix)).toEqual(straightPrefix);
  });

  it('before/since with a leading `/` (dockerd reads /name as name): judged like the bare name', async () => {
    const names = (body: string) => (JSON.parse(body) as Array<{ Names: string[] }>).map((c) => c.Names[0]!.slice(1)).filter((n) => n.startsWith('lk-')).sort();
    const visibleStraight = await listWith(proxy.url, { since: ['/lk-web-a'] });
    const visibleThrough = await listWith(sieve.url, { since: ['/lk-web-a'] });
    expect(visibleStraight.status).toBe(200);
    expect(visibleThrough.status).toBe(200);
    expect(names(visibleThrough.body)).toEqual(names(visibleStraight.body).filter((n) => VISIBLE.includes(n)));
    const hiddenStraight = await listWith(proxy.url, { before: ['/lk-db'] });
    const missingStraight = await listWith(proxy.url, { before: ['/lk-nope'] });
    expect(hiddenStraight.status).toBe(200);
    expect(missingStraight.status).toBeGreaterThanOrEqual(400);
    const hiddenThrough = await listWith(sieve.url, { before: ['/lk-db'] });
    expect(hiddenThrough.status).toBe(missingStraight.status);
    expect(hiddenThrough.body).toBe(missingStraight.body.replaceAll('lk-nope', 'lk-db'));
    // No lookup path carries an empty segment: refused, and nothing is asked of the daemon.
    for (const ref of ['//lk-db', 'lk-db/', '']) {
      const refused = await listWith(sieve.url, { before: [ref] });
      expect(refused.status, ref).toBe(400);
      expect(refused.body).toContain('docker-sieve');
    }
  });

  it('docker ps --filter before=lk-db through docker-sieve: exactly what straight says for before=lk-nope', async () => {
    const missing = await docker(['ps', '-a', '--filter', 'before=lk-nope', '--format', '{{.Names}}'], { host: `tcp://127.0.0.1:${new URL(proxy.url).port}` });
    const through = await docker(['ps', '-a', '--filter', 'before=lk-db', '--format', '{{.Names}}'], { host: sieve.host });
    expect(missing.code).not.toBe(0);
    expect({ code: through.code, stdout: through.stdout, stderr: through.stderr }).toEqual({
      code: missing.code,
      stdout: missing.stdout,
      stderr: missing.stderr.replaceAll('lk-nope', 'lk-db'),
    });
    const hidden = await docker(['ps', '-a', '--filter', 'before=lk-db', '--format', '{{.Names}}'], { host: `tcp://127.0.0.1:${new URL(proxy.url).port}` });
    expect(hidden.code).toBe(0);
  });

  it('docker system df -v lists only visible containers', async () => {
    const direct = dfContainerNames(await dockerOk(['system', 'df', '-v']));
    expect(direct).toEqual(expect.arrayContaining([...VISIBLE, ...HIDDEN]));
    const output = await dockerOk(['system', 'df', '-v'], { host: sieve.host });
    const names = dfContainerNames(output);
    expect(names.filter((n) => n.startsWith('lk-')).sort()).toEqual(VISIBLE);
    for (const name of HIDDEN) expect(output).not.toContain(name);
    // The summary table still works, from the filtered answer.
    expect(await dockerOk(['system', 'df', '--format', '{{.Type}}'], { host: sieve.host })).toContain('Containers');
  });

  it('GET /system/df carries no hidden container ID', async () => {
    const direct = await get(`${proxy.url}/v1.41/system/df`);
    expect(direct.body).toContain(ids['lk-db']);
    const { status, body } = await get(`${sieve.url}/v1.41/system/df`);
    expect(status).toBe(200);
    for (const name of HIDDEN) expect(body).not.toContain(ids[name]!);
    for (const name of VISIBLE) expect(body).toContain(ids[name]!);
  });

  it('docker network inspect none shows the visible running containers and no hidden one', async () => {
    const format = ['--format', '{{json .Containers}}'];
    const direct = JSON.parse(await dockerOk(['network', 'inspect', 'none', ...format])) as Record<string, { Name: string }>;
    expect(Object.keys(direct)).toContain(ids['lk-db']);
    const shown = JSON.parse(await dockerOk(['network', 'inspect', 'none', ...format], { host: sieve.host })) as Record<string, { Name: string }>;
    // Exited containers are disconnected from their network: only the running ones are there.
    expect(Object.values(shown).map((e) => e.Name).filter((n) => n.startsWith('lk-')).sort()).toEqual(['lk-lab', 'lk-web-a']);
    expect(Object.keys(shown)).toEqual(expect.arrayContaining([ids['lk-web-a'], ids['lk-lab']]));
    for (const name of HIDDEN) expect(Object.keys(shown)).not.toContain(ids[name]);
    const raw = await dockerOk(['network', 'inspect', 'none'], { host: sieve.host });
    expect(raw).not.toContain('lk-db');
    expect(raw).not.toContain(ids['lk-db']!);
  });

  it('/v1.27/networks (Containers maps in the list) has no hidden container ID anywhere in the body', async () => {
    const direct = await get(`${proxy.url}/v1.27/networks`);
    expect(direct.body).toContain(ids['lk-db']);
    const { status, body } = await get(`${sieve.url}/v1.27/networks`);
    expect(status).toBe(200);
    for (const name of HIDDEN) {
      expect(body).not.toContain(ids[name]!);
      expect(body).not.toContain(name);
    }
    expect(body).toContain(ids['lk-web-a']);
    expect(body).toContain(ids['lk-lab']);
    // And newer versions are what the daemon says.
    // (The daemon lists networks in map order: compare them sorted.)
    const sorted = (body: string) => (JSON.parse(body) as Array<{ Id: string }>).sort((a, b) => a.Id.localeCompare(b.Id));
    const current = await get(`${sieve.url}/networks`);
    expect(sorted(current.body)).toEqual(sorted((await get(`${proxy.url}/networks`)).body));
  });
});

describeIntegration('leaks: swarm services and tasks (single-node swarm on loopback)', () => {
  let proxy: SocketProxy;
  let sieve: RunningSieve;
  let swarm = false;
  const serviceIds: Record<string, string> = {};
  const SERVICES = ['lk-web-svc', 'lk-db-svc'];

  beforeAll(async () => {
    const port = await freePort();
    const init = await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`, '--data-path-addr', '127.0.0.1'], {
      timeoutMs: 60_000,
    });
    if (init.code !== 0) {
      process.stderr.write(`leaks.test.ts: swarm tests skipped, docker swarm init failed: ${init.stderr.trim()}\n`);
      return;
    }
    swarm = true;
    const create = (name: string, extra: string[]) =>
      dockerOk(['service', 'create', '--detach', '--no-resolve-image', '--name', name, ...extra, 'local/busybox:1', 'sleep', '3600']);
    serviceIds['lk-web-svc'] = (await create('lk-web-svc', ['--env', 'SECRET=hunter2'])).trim();
    serviceIds['lk-db-svc'] = (await create('lk-db-svc', ['--label', 'lk.visible=no', '--env', 'POSTGRES_PASSWORD=hunter2'])).trim();
    // Wait until each service has a task.
    for (let i = 0; i < 100; i++) {
      const tasks = await Promise.all(SERVICES.map((s) => dockerOk(['service', 'ps', '-q', s])));
      if (tasks.every((t) => t !== '')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    proxy = await startSocketProxy(dockerSock(), { SERVICES: '1', TASKS: '1', POST: '1', DELETE: '1', VERSION: '1', PING: '1' });
    sieve = await startSieve({ PROXY_URL: proxy.url, ...FILTERS, SCRUB_ENVS: 'true' });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await proxy?.stop();
    if (!swarm) return;
    await docker(['service', 'rm', ...SERVICES]);
    await docker(['swarm', 'leave', '--force'], { timeoutMs: 60_000 });
    // Leave the shared daemon as we found it: no task containers, no swarm bridge.
    const left = (await docker(['ps', '-aq', '--filter', 'name=lk-'])).stdout.split('\n').filter(Boolean);
    if (left.length > 0) await docker(['rm', '-f', ...left]);
    await docker(['network', 'rm', 'docker_gwbridge']);
  });

  it('docker service ls shows only visible services', async (context) => {
    if (!swarm) context.skip();
    expect((await dockerOk(['service', 'ls', '--format', '{{.Name}}'])).split('\n').sort()).toEqual(['lk-db-svc', 'lk-web-svc']);
    const out = await dockerOk(['service', 'ls', '--format', '{{.Name}}'], { host: sieve.host });
    expect(out.split('\n').filter(Boolean)).toEqual(['lk-web-svc']);
  });

  it('docker service inspect: a visible service scrubbed, a hidden one as if it did not exist', async (context) => {
    if (!swarm) context.skip();
    const env = await dockerOk(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}', 'lk-web-svc'], { host: sieve.host });
    expect(env.trim()).toBe('[]');
    for (const ref of ['lk-db-svc', serviceIds['lk-db-svc']!, serviceIds['lk-db-svc']!.slice(0, 6)]) {
      const hidden = await docker(['service', 'inspect', ref], { host: sieve.host });
      expect(hidden.code).not.toBe(0);
      expect(hidden.stderr).toMatch(/no such service/i);
      expect(hidden.stdout + hidden.stderr).not.toContain('hunter2');
    }
  });

  it('docker service ps and /tasks show the tasks of visible services only', async (context) => {
    if (!swarm) context.skip();
    const ps = await dockerOk(['service', 'ps', '--format', '{{.Name}}', 'lk-web-svc'], { host: sieve.host });
    expect(ps.trim()).toBe('lk-web-svc.1');
    const hidden = await docker(['service', 'ps', 'lk-db-svc'], { host: sieve.host });
    expect(hidden.code).not.toBe(0);
    const direct = await get(`${proxy.url}/tasks`);
    expect(direct.body).toContain(serviceIds['lk-db-svc']);
    const { status, body } = await get(`${sieve.url}/tasks`);
    expect(status).toBe(200);
    expect(body).toContain(serviceIds['lk-web-svc']);
    expect(body).not.toContain(serviceIds['lk-db-svc']);
    expect(body).not.toContain('hunter2');
  });

  it('docker service logs and rm of a hidden service fail and touch nothing', async (context) => {
    if (!swarm) context.skip();
    const logs = await docker(['service', 'logs', 'lk-db-svc'], { host: sieve.host, timeoutMs: 10_000 });
    expect(logs.code).not.toBe(0);
    const rm = await docker(['service', 'rm', 'lk-db-svc'], { host: sieve.host });
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toMatch(/not found|no such service/i);
    expect((await dockerOk(['service', 'inspect', '--format', '{{.Spec.Name}}', 'lk-db-svc'])).trim()).toBe('lk-db-svc');
  });
});

// A daemon's error answer to a judged request names other containers by their full ID (gates/error-answer.ts):
// a name's holder on create and rename, the container whose network a visible one joins. The client may learn
// that the name is taken (the create fails either way), never which container holds it.
describeIntegration('leaks: daemon errors that name a hidden container', () => {
  const OWN = ['le-web', 'le-web-joiner', 'le-db', 'le-db-exited', 'le-web-new'];
  const MARK = '(a container hidden by docker-sieve)';
  let proxy: SocketProxy;
  let sieve: RunningSieve;
  const ids: Record<string, string> = {};
  const straight = (args: string[]) => docker(args, { host: `tcp://127.0.0.1:${new URL(proxy.url).port}` });
  const through = (args: string[]) => docker(args, { host: sieve.host });
  const shape = (r: { code: number; stdout: string; stderr: string }) => ({ code: r.code, stdout: r.stdout.trim(), stderr: r.stderr.trim() });

  beforeAll(async () => {
    await removeContainers(OWN);
    ids['le-web'] = await runContainer({ name: 'le-web' });
    ids['le-db'] = await runContainer({ name: 'le-db', env: { POSTGRES_PASSWORD: 'hunter2' } });
    ids['le-db-exited'] = await runContainer({ name: 'le-db-exited', cmd: ['true'], detach: false });
    // Made straight: a visible container that joins a hidden one's network, which start checks.
    ids['le-web-joiner'] = (await dockerOk(['create', '--name', 'le-web-joiner', '--network', 'container:le-db-exited', BUSYBOX_IMAGE, 'sleep', '3600'])).trim();
    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1', POST: '1', DELETE: '1', VERSION: '1', PING: '1' });
    sieve = await startSieve({ PROXY_URL: proxy.url, CONTAINER_NAMES: 'le-web' });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await proxy?.stop();
    await removeContainers(OWN);
  });

  it.each<[string, string[], string]>([
    ['docker create --name le-db (held by a hidden container)', ['create', '--name', 'le-db', '--network', 'none', BUSYBOX_IMAGE, 'true'], 'le-db'],
    ['docker rename le-web le-db', ['rename', 'le-web', 'le-db'], 'le-db'],
    ['docker start le-web-joiner (it joins the network of a hidden, stopped container)', ['start', 'le-web-joiner'], 'le-db-exited'],
  ])('%s: what straight says, with the hidden container\'s ID written as the mark', async (_label, args, holder) => {
    const s = await straight(args);
    const t = await through(args);
    expect(s.code).not.toBe(0);
    expect(s.stderr).toContain(ids[holder]!);
    expect(shape(t)).toEqual(shape({ ...s, stderr: s.stderr.replaceAll(ids[holder]!, MARK) }));
    for (const id of [ids['le-db']!, ids['le-db-exited']!]) expect(`${t.stdout}${t.stderr}`).not.toContain(id);
  });

  it('a name held by a visible container, and a free name: as straight', async () => {
    const taken = ['create', '--name', 'le-web', '--network', 'none', BUSYBOX_IMAGE, 'true'];
    expect(shape(await through(taken))).toEqual(shape(await straight(taken)));
    const made = await through(['create', '--name', 'le-web-new', '--network', 'none', BUSYBOX_IMAGE, 'true']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
  });
});
