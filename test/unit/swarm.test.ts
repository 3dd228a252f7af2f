// Swarm services and tasks, on answers recorded from a single-node swarm (fixtures/README.md, "Swarm scene"):
// the pure pieces, then every route through the app against a scripted upstream.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, parseLabelRules, parseList, type Env } from '../../src/config.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { filterServices, filterTasks, judgeService, scrubService, scrubTask, taskServiceIds } from '../../src/filters/swarm.js';
import { UnexpectedShape } from '../../src/filters/json-answer.js';
import { DAEMON_HEADERS, json, startFakeUpstream, type FakeHandler, type FakeUpstream } from './fake-upstream.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url));
const SERVICES = fixture('services-list.v1.41.json');
const TASKS = fixture('tasks-list.v1.41.json');
const WEB = fixture('service-inspect-web-svc.v1.41.json');
const DB = fixture('service-inspect-db-svc.v1.41.json');
const WEB_TASK = fixture('task-inspect-web-svc.v1.41.json');
const DB_TASK = fixture('task-inspect-db-svc.v1.41.json');
const SERVICE_MISSING = fixture('service-missing.v1.41.json');
const TASK_MISSING = fixture('task-missing.v1.41.json');

const ID = {
  'web-svc': '5jemm8kud7ijidpt4nx6v02t8',
  'db-svc': 'zwya3imprbnu9e4izofr8o33y',
  worker: 'rje1673dvwxdmqtkgdwf707x8',
} as const;
const TASK = { web: '4ozeurhu6n8b9rznnef3tn5pv', webOld: '70qaibmd4td2cwwpqrclg7uxq', db: 'oqjvznzbbj28cws10zbflsy8j', worker: 'mzjldnelho391g5p679qkng9m' };

type Service = { ID: string; Spec: { Name: string; TaskTemplate: { ContainerSpec: { Env?: string[] } } }; PreviousSpec?: Service['Spec'] };
type Task = { ID: string; ServiceID: string; Spec: { ContainerSpec: { Env?: string[] } } };
const parse = <T>(body: Buffer): T => JSON.parse(body.toString('utf8')) as T;

function policy(names: string, labels = '') {
  return compilePolicy({ names: parseList(names), labels: parseLabelRules(labels) });
}

describe('pure swarm pieces on recorded answers', () => {
  it('is a real scene: three services, four tasks (one shut down), env in specs', () => {
    expect(parse<Service[]>(SERVICES).map((s) => s.Spec.Name).sort()).toEqual(['db-svc', 'web-svc', 'worker']);
    expect(parse<Task[]>(TASKS).map((t) => t.ID).sort()).toEqual(Object.values(TASK).sort());
    expect(parse<Service>(WEB).PreviousSpec!.TaskTemplate.ContainerSpec.Env).toEqual(['SECRET=hunter2', 'TZ=UTC']);
  });

  it.each([
    ['web', '', ['web-svc']],
    ['', 'homepage.group=Media', ['web-svc']],
    ['', 'com.example.visible', ['db-svc', 'worker']],
    ['', 'com.example.visible=true', ['worker']],
    ['svc', '', ['db-svc', 'web-svc']],
    ['nothing', '', []],
    ['', '', ['db-svc', 'web-svc', 'worker']],
  ])('names=%j labels=%j: services %j are visible, and their tasks', (names, labels, expected) => {
    const p = policy(names, labels);
    const services = parse<Service[]>(SERVICES);
    expect(services.filter((s) => judgeService(p, s).visible).map((s) => s.Spec.Name).sort()).toEqual(expected);
    const summary = { kept: 0, seen: 0 };
    const kept = filterServices(p, parse(SERVICES), false, summary) as Service[];
    expect(kept.map((s) => s.Spec.Name).sort()).toEqual(expected);
    expect(summary).toEqual({ kept: expected.length, seen: 3 });
    // Tasks follow their service.
    const visibleIds = new Set<string>(expected.map((name) => ID[name as keyof typeof ID]));
    const tasks = filterTasks(parse(TASKS), visibleIds, false) as Task[];
    expect(tasks.every((t) => visibleIds.has(t.ServiceID))).toBe(true);
    expect(tasks).toEqual(parse<Task[]>(TASKS).filter((t) => visibleIds.has(t.ServiceID)));
  });

  it('judgeService reads the spec, not the ref: ID and name', () => {
    expect(judgeService(policy('web'), parse(WEB))).toEqual({ id: ID['web-svc'], name: 'web-svc', visible: true });
    expect(judgeService(policy('web'), parse(DB))).toEqual({ id: ID['db-svc'], name: 'db-svc', visible: false });
  });

  it('taskServiceIds: each service once', () => {
    expect(taskServiceIds(parse(TASKS)).sort()).toEqual(Object.values(ID).sort());
  });

  it('scrubService blanks the env in Spec and PreviousSpec and nothing else', () => {
    const original = parse<Service>(WEB);
    const scrubbed = scrubService(parse(WEB)) as unknown as Service;
    expect(scrubbed.Spec.TaskTemplate.ContainerSpec.Env).toEqual([]);
    expect(scrubbed.PreviousSpec!.TaskTemplate.ContainerSpec.Env).toEqual([]);
    expect(JSON.stringify(scrubbed)).not.toContain('hunter2');
    const restore = (s: Service) => {
      s.Spec.TaskTemplate.ContainerSpec.Env = ['x'];
      s.PreviousSpec!.TaskTemplate.ContainerSpec.Env = ['x'];
      return s;
    };
    expect(restore(scrubbed)).toEqual(restore(original));
  });

  it('scrubTask blanks Spec.ContainerSpec.Env and nothing else', () => {
    const original = parse<Task>(WEB_TASK);
    const scrubbed = scrubTask(parse(WEB_TASK)) as unknown as Task;
    expect(scrubbed.Spec.ContainerSpec.Env).toEqual([]);
    expect(JSON.stringify(scrubbed)).not.toContain('hunter2');
    expect({ ...scrubbed, Spec: null }).toEqual({ ...original, Spec: null });
  });

  it('scrubbing leaves objects without a container spec alone', () => {
    expect(scrubService({ ID: 'x', Spec: { Name: 'p', TaskTemplate: { PluginSpec: {} } } })).toEqual({
      ID: 'x',
      Spec: { Name: 'p', TaskTemplate: { PluginSpec: {} } },
    });
    expect(scrubTask({ ID: 't', Spec: null })).toEqual({ ID: 't', Spec: null });
  });

  it.each([
    ['a service that is not an object', () => judgeService(policy('web'), 'web-svc')],
    ['a service without Spec', () => judgeService(policy('web'), { ID: 'x' })],
    ['a service without a name', () => judgeService(policy('web'), { ID: 'x', Spec: { Labels: {} } })],
    ['a service without an ID', () => judgeService(policy('web'), { Spec: { Name: 'web' } })],
    ['a service with labels that are a list', () => judgeService(policy('web'), { ID: 'x', Spec: { Name: 'db', Labels: ['web'] } })],
    ['a services list that is not a list', () => filterServices(policy('web'), parse(WEB), false)],
    ['a task without ServiceID', () => taskServiceIds([{ ID: 't' }])],
    ['a tasks list that is not a list', () => taskServiceIds({ ID: 't', ServiceID: 's' })],
    ['a task that is not an object', () => filterTasks(['t'], new Set(), false)],
  ])('throws on %s', (_title, run) => {
    expect(run).toThrow(UnexpectedShape);
  });
});

describe('swarm routes through the app', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance | undefined;

  const raw =
    (status: number, body: string | Buffer, contentType = 'application/json'): FakeHandler =>
    (_request, response) => {
      response.writeHead(status, { ...DAEMON_HEADERS, 'content-type': contentType });
      response.end(body);
    };

  const notFound =
    (noun: string): FakeHandler =>
    (request, response) => {
      const ref = decodeURIComponent(request.url.split('?')[0]!.split('/').at(-1)!);
      const plain = /^\/v1\.([0-9]|1[0-9]|2[0-3])\//.test(request.url);
      raw(404, plain ? `${noun} ${ref} not found\n` : `${JSON.stringify({ message: `${noun} ${ref} not found` })}\n`, plain ? 'text/plain' : 'application/json')(
        request,
        response,
      );
    };

  /**
   * The recorded scene: inspects by name and ID (bare or versioned), the lists, the daemon's 404s. The fake
   * upstream takes the first matching route, so `first` routes win over the scene's.
   */
  function scene(first: Array<[string, string | RegExp, FakeHandler]> = []): void {
    for (const [method, path, handler] of first) upstream.on(method, path, handler);
    const worker = Buffer.from(JSON.stringify(parse<Service[]>(SERVICES).find((s) => s.ID === ID.worker)));
    for (const [name, body] of [['web-svc', WEB], ['db-svc', DB], ['worker', worker]] as const) {
      for (const ref of [name, ID[name]]) upstream.on('GET', new RegExp(`^(/v[0-9.]+)?/services/${ref}$`), raw(200, body));
    }
    upstream.on('GET', new RegExp(`^(/v[0-9.]+)?/tasks/${TASK.web}$`), raw(200, WEB_TASK));
    upstream.on('GET', new RegExp(`^(/v[0-9.]+)?/tasks/${TASK.db}$`), raw(200, DB_TASK));
    upstream.on('GET', /^(\/v[0-9.]+)?\/services$/, raw(200, SERVICES));
    upstream.on('GET', /^(\/v[0-9.]+)?\/tasks$/, raw(200, TASKS));
    upstream.on('GET', /^(\/v[0-9.]+)?\/services\/[^/]+$/, notFound('service'));
    upstream.on('GET', /^(\/v[0-9.]+)?\/tasks\/[^/]+$/, notFound('task'));
    // Anything forwarded after the gate: echo what arrived.
    const echo: FakeHandler = (request, response) => {
      response.writeHead(200, { ...DAEMON_HEADERS, 'content-type': 'text/plain' });
      response.end(`${request.method} ${request.url} ${request.body.toString('utf8')}`);
    };
    upstream.on('GET', /\/logs$/, echo);
    upstream.on('POST', /\/update$/, echo);
    upstream.on('DELETE', /^(\/v[0-9.]+)?\/services\/[^/]+$/, echo);
  }

  async function start(env: Env = {}): Promise<FastifyInstance> {
    const config = parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent', ...env });
    app = await buildApp({ config, resolver: { watchEvents: false } });
    return app;
  }

  const sent = (method: string, pattern: RegExp) => upstream.requests.filter((r) => r.method === method && pattern.test(r.url));

  beforeEach(async () => {
    upstream = await startFakeUpstream();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await upstream.close();
  });

  it('the recorded 404s are what we answer for a hidden object', () => {
    expect(SERVICE_MISSING.toString()).toBe('{"message":"service nope not found"}\n');
    expect(TASK_MISSING.toString()).toBe('{"message":"task nope not found"}\n');
    expect(fixture('service-missing.v1.23.txt').toString()).toBe('service nope not found\n');
  });

  describe('lists', () => {
    it.each([
      [{}, ['web-svc']],
      [{ CONTAINER_NAMES: '', CONTAINER_LABELS: 'com.example.visible=true' }, ['worker']],
      [{ CONTAINER_NAMES: 'svc' }, ['db-svc', 'web-svc']],
    ])('GET /v1.41/services with %j shows %j', async (env, expected) => {
      scene();
      const sieve = await start(env);
      const response = await sieve.inject({ method: 'GET', url: '/v1.41/services?status=true' });
      expect(response.statusCode).toBe(200);
      expect((response.json() as Service[]).map((s) => s.Spec.Name).sort()).toEqual(expected);
      expect(upstream.requests[0]!.url).toBe('/v1.41/services?status=true');
      expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
      expect(response.headers['api-version']).toBe('1.41');
      if (!expected.includes('db-svc')) expect(response.body).not.toContain('POSTGRES_PASSWORD');
    });

    it('GET /tasks keeps the tasks of visible services, with one lookup per service', async () => {
      scene();
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url: '/tasks?filters=%7B%7D' });
      expect(response.statusCode).toBe(200);
      expect((response.json() as Task[]).map((t) => t.ID).sort()).toEqual([TASK.web, TASK.webOld].sort());
      expect(response.body).not.toContain(ID['db-svc']);
      expect(response.body).not.toContain('POSTGRES_PASSWORD');
      for (const id of Object.values(ID)) expect(sent('GET', new RegExp(`/services/${id}$`))).toHaveLength(1);
      expect(upstream.requests[0]!.url).toBe('/tasks?filters=%7B%7D');
    });

    it('a task whose service is gone (404) is dropped', async () => {
      scene([['GET', `/services/${ID.worker}`, notFound('service')]]);
      const sieve = await start({ CONTAINER_NAMES: 'svc,worker' });
      const response = await sieve.inject({ method: 'GET', url: '/tasks' });
      expect((response.json() as Task[]).map((t) => t.ID).sort()).toEqual([TASK.web, TASK.webOld, TASK.db].sort());
    });

    it('a service lookup that answers another service does not count', async () => {
      scene([['GET', `/services/${ID['db-svc']}`, raw(200, WEB)]]);
      const sieve = await start({ CONTAINER_NAMES: 'svc' });
      const response = await sieve.inject({ method: 'GET', url: '/tasks' });
      expect((response.json() as Task[]).map((t) => t.ID).sort()).toEqual([TASK.web, TASK.webOld].sort());
    });

    it.each([
      ['refused by the socket proxy', raw(403, '<html>403 Forbidden</html>\n', 'text/html'), 403],
      ['a daemon error', json(500, { message: 'rpc error' }), 502],
      ['malformed', raw(200, '{"ID":'), 502],
      ['not a service', raw(200, '{"ID":"x"}'), 502],
    ])('a failed service lookup (%s) fails the tasks list, with nothing of it', async (_title, handler, status) => {
      scene([['GET', `/services/${ID.worker}`, handler]]);
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url: '/tasks' });
      expect(response.statusCode).toBe(status);
      expect(response.body).not.toContain(TASK.web);
    });

    it('SCRUB_ENVS blanks the env of listed services and tasks', async () => {
      scene();
      const sieve = await start({ SCRUB_ENVS: 'true', CONTAINER_NAMES: '' });
      const services = await sieve.inject({ method: 'GET', url: '/services' });
      expect((services.json() as Service[]).map((s) => s.Spec.TaskTemplate.ContainerSpec.Env)).toEqual([[], [], []]);
      expect(services.body).not.toContain('hunter2');
      const tasks = await sieve.inject({ method: 'GET', url: '/tasks' });
      expect((tasks.json() as Task[]).map((t) => t.Spec.ContainerSpec.Env)).toEqual([[], [], [], []]);
      expect(tasks.body).not.toContain('hunter2');
    });

    it('passes a non-200 list through unchanged (not a swarm manager)', async () => {
      const message =
        '{"message":"This node is not a swarm manager. Use \\"docker swarm init\\" or \\"docker swarm join\\" to connect this node to swarm and try again."}\n';
      upstream.on('GET', '/services', raw(503, message));
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url: '/services' });
      expect(response.statusCode).toBe(503);
      expect(response.body).toBe(message);
    });

    it.each([
      ['/services', 'truncated', SERVICES.subarray(0, SERVICES.indexOf('db-svc') + 10)],
      ['/services', 'an object', DB],
      ['/services', 'a service without Spec', Buffer.from(JSON.stringify([{ ID: ID['db-svc'], Name: 'db-svc' }]))],
      ['/tasks', 'truncated', TASKS.subarray(0, TASKS.indexOf(ID['db-svc']) + 30)],
      ['/tasks', 'an object', DB_TASK],
      ['/tasks', 'a task without ServiceID', Buffer.from(JSON.stringify([{ ID: TASK.db, Env: ['POSTGRES_PASSWORD=hunter2'] }]))],
    ])('%s: answers 502 for a %s upstream body, never its bytes', async (url, _title, body) => {
      scene([['GET', `/v1.41${url}`, raw(200, body)]]);
      const sieve = await start({ CONTAINER_NAMES: 'svc' });
      const response = await sieve.inject({ method: 'GET', url: `/v1.41${url}` });
      expect(response.statusCode).toBe(502);
      expect(response.json().message).toMatch(/^docker-sieve: /);
      expect(response.body).not.toContain('hunter2');
      expect(response.body).not.toContain('db-svc');
    });
  });

  describe('inspect', () => {
    it.each([
      ['/v1.41/services/web-svc', WEB],
      [`/services/${ID['web-svc']}?insertDefaults=true`, WEB],
      [`/v1.41/tasks/${TASK.web}`, WEB_TASK],
    ])('GET %s of a visible object is the daemon answer', async (url, body) => {
      scene();
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual(parse(body));
      // One request for the object itself, with the client's query.
      expect(upstream.requests[0]!.url).toBe(url);
    });

    it.each([
      ['/v1.41/services/db-svc', 'service db-svc not found'],
      [`/services/${ID['db-svc']}`, `service ${ID['db-svc']} not found`],
      ['/services/zwya', 'service zwya not found'],
      ['/services/nope', 'service nope not found'],
      [`/v1.41/tasks/${TASK.db}`, `task ${TASK.db} not found`],
      ['/tasks/nope', 'task nope not found'],
    ])('GET %s of a hidden or missing object is the daemon 404', async (url, message) => {
      scene([['GET', '/services/zwya', raw(200, DB)]]);
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toBe('application/json');
      expect(response.json()).toEqual({ message });
      expect(response.headers['api-version']).toBe('1.41');
      expect(response.body).not.toContain('hunter2');
    });

    it('answers API 1.23 in plain text, like the recorded daemon', async () => {
      scene();
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url: '/v1.23/services/db-svc' });
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      expect(response.body).toBe('service db-svc not found\n');
    });

    it('an ambiguous prefix (400) is a 404: it would tell about other services', async () => {
      scene([['GET', '/services/z', json(400, { message: 'service z is ambiguous (2 matches found)' })]]);
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url: '/services/z' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ message: 'service z not found' });
    });

    it('a task of a hidden service is hidden, and one whose service is gone too', async () => {
      scene([['GET', `/services/${ID['web-svc']}`, notFound('service')]]);
      const sieve = await start({ CONTAINER_NAMES: 'svc' });
      const response = await sieve.inject({ method: 'GET', url: `/tasks/${TASK.web}` });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ message: `task ${TASK.web} not found` });
    });

    it('SCRUB_ENVS blanks the env of an inspected service (PreviousSpec too) and task', async () => {
      scene();
      const sieve = await start({ SCRUB_ENVS: '1' });
      const service = await sieve.inject({ method: 'GET', url: '/services/web-svc' });
      expect(service.statusCode).toBe(200);
      expect(service.body).not.toContain('hunter2');
      expect(service.json()).toEqual(scrubService(parse(WEB)));
      const task = await sieve.inject({ method: 'GET', url: `/tasks/${TASK.web}` });
      expect(task.body).not.toContain('hunter2');
      expect(task.json()).toEqual(scrubTask(parse(WEB_TASK)));
    });

    it.each([
      ['/services/web-svc', 'truncated', WEB.subarray(0, WEB.indexOf('hunter2') + 10)],
      ['/services/web-svc', 'a list', SERVICES],
      ['/services/web-svc', 'a service without Spec', Buffer.from('{"ID":"x","Env":["SECRET=hunter2"]}')],
      [`/tasks/${TASK.web}`, 'truncated', WEB_TASK.subarray(0, WEB_TASK.indexOf('hunter2') + 10)],
      [`/tasks/${TASK.web}`, 'a task without ServiceID', Buffer.from('{"ID":"x","Env":["SECRET=hunter2"]}')],
    ])('%s: answers 502 for a %s upstream body, never its bytes', async (url, _title, body) => {
      scene([['GET', url, raw(200, body)]]);
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(502);
      expect(response.body).not.toContain('hunter2');
    });

    it('passes any other upstream error through (not a swarm manager)', async () => {
      upstream.on('GET', '/services/web-svc', json(503, { message: 'This node is not a swarm manager.' }));
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url: '/services/web-svc' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({ message: 'This node is not a swarm manager.' });
    });
  });

  describe('logs, update, delete: gated, then forwarded with the full ID', () => {
    it.each([
      ['GET', '/v1.41/services/web-svc/logs?stdout=1&follow=1', `GET /v1.41/services/${ID['web-svc']}/logs?stdout=1&follow=1 `],
      ['POST', '/v1.41/services/web-svc/update?version=34', `POST /v1.41/services/${ID['web-svc']}/update?version=34 {"Name":"web-svc"}`],
      ['DELETE', '/services/5jemm', `DELETE /services/${ID['web-svc']} `],
      ['GET', `/tasks/${TASK.web}/logs?stderr=1`, `GET /tasks/${TASK.web}/logs?stderr=1 `],
    ])('%s %s of a visible object is forwarded', async (method, url, echoed) => {
      scene([['GET', '/services/5jemm', raw(200, WEB)]]);
      const sieve = await start();
      const response = await sieve.inject({
        method: method as 'GET',
        url,
        ...(method === 'POST' ? { payload: '{"Name":"web-svc"}', headers: { 'content-type': 'application/json' } } : {}),
      });
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(echoed);
    });

    it.each([
      ['GET', '/v1.41/services/db-svc/logs?stdout=1', 'service db-svc not found'],
      ['POST', '/v1.41/services/db-svc/update?version=1', 'service db-svc not found'],
      ['DELETE', '/services/db-svc', 'service db-svc not found'],
      ['DELETE', `/services/${ID['db-svc']}`, `service ${ID['db-svc']} not found`],
      ['DELETE', '/services/nope', 'service nope not found'],
      ['GET', `/tasks/${TASK.db}/logs`, `task ${TASK.db} not found`],
      ['GET', '/tasks/nope/logs', 'task nope not found'],
    ])('%s %s of a hidden or missing object is 404 and nothing is forwarded', async (method, url, message) => {
      scene();
      const sieve = await start();
      const response = await sieve.inject({ method: method as 'GET', url, ...(method === 'POST' ? { payload: '{}' } : {}) });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ message });
      expect(sent('GET', /\/logs/)).toHaveLength(0);
      expect(sent('POST', /./)).toHaveLength(0);
      expect(sent('DELETE', /./)).toHaveLength(0);
    });

    it('an ambiguous prefix (400) is a 404 here too, and nothing is forwarded', async () => {
      scene([['GET', '/services/z', json(400, { message: 'service z is ambiguous (2 matches found)' })]]);
      const sieve = await start();
      const response = await sieve.inject({ method: 'GET', url: '/services/z/logs' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ message: 'service z not found' });
      expect(sent('GET', /\/logs/)).toHaveLength(0);
    });

    it.each([
      ['refused by the socket proxy', raw(403, 'Forbidden\n', 'text/plain'), 403, 'Forbidden\n'],
      ['not a swarm manager', json(503, { message: 'This node is not a swarm manager.' }), 503, '{"message":"This node is not a swarm manager."}\n'],
      ['a daemon error', json(500, { message: 'boom' }), 502, undefined],
      ['malformed', raw(200, '{"ID":"5jemm8kud7ijidpt4nx6v02t8","Spec":'), 502, undefined],
    ])('a lookup that fails (%s) forwards nothing', async (_title, handler, status, body) => {
      scene([['GET', '/services/web-svc', handler]]);
      const sieve = await start();
      const response = await sieve.inject({ method: 'DELETE', url: '/services/web-svc' });
      expect(response.statusCode).toBe(status);
      if (body !== undefined) expect(response.body).toBe(body);
      expect(sent('DELETE', /./)).toHaveLength(0);
    });

    it.each([
      ['POST', '/tasks/x/update'],
      ['DELETE', '/tasks/x'],
      ['GET', '/services/web-svc/update'],
      ['POST', '/services/web-svc'],
      ['PUT', '/services/web-svc'],
      ['HEAD', '/services/web-svc'],
      ['POST', '/services/web-svc/logs'],
      ['GET', '/services/web-svc/extra'],
      ['GET', '/services/a/b/logs'],
      ['POST', '/services/web-svc/rollback'],
    ])('%s %s is not a daemon route: 404 page not found, nothing asked upstream', async (method, url) => {
      scene();
      const sieve = await start();
      const response = await sieve.inject({ method: method as 'GET', url });
      expect(response.statusCode).toBe(404);
      if (method !== 'HEAD') expect(response.json()).toEqual({ message: 'page not found' });
      expect(upstream.requests).toHaveLength(0);
    });
  });
});
