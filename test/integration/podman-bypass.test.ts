// Issue 12: the raw-request bypass battery for Podman's native (libpod) API. No request shape reaches a hidden
// container's data or acts on it: encodings, slashes and dot segments, version prefixes, case, `exists` by HEAD and
// GET, query keys in another case (Podman reads them in any case), repeated keys, `depend=true` on DELETE, refs in
// create / commit / connect bodies and queries, exec sessions made straight on Podman, pods. Each is sent as raw
// bytes to docker-sieve in front of the private Podman 4.3.1 (unix socket), and every answer is checked on its
// status and its bytes. The CLI-level cases are podman.test.ts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from 'node:net';
import { podmanSock, requirePodman, startSieve, type RunningSieve } from './harness/index.js';
import {
  createPodmanPod,
  libpodRequest,
  podman,
  podmanOk,
  removePodmanContainers,
  removePodmanPods,
  runPodmanContainer,
} from './harness/podman.js';

const describePodman = requirePodman();

const VISIBLE = 'pm-vis-label';
const HIDDEN = 'pm-hidden';
const NOPE = 'pm-nope';
const BASE = 'pm-bp-base';
const DEPENDENT = 'pm-bp-dependent';
const HIDDEN_POD = 'pm-hidden-pod';
const HIDDEN_POD_C = 'pm-hidden-pod-c';
const SECRET = 'hunter2-pm-secret';
/** pm-hidden's command: what `top`, an inspect or a kube of it would show. */
const HIDDEN_CMD = 'sleep 987654';
const LEAKS = Array.from({ length: 12 }, (_, i) => `pm-bp-leak-${i}`);
const CONTAINERS = [VISIBLE, HIDDEN, DEPENDENT, BASE, HIDDEN_POD_C, 'pm-bp-side', ...LEAKS];
const PODS = [HIDDEN_POD, 'pm-bp-leak-pod'];
/** Hidden names: never in an answer unless the client wrote them. */
const HIDDEN_NAMES = [HIDDEN, HIDDEN_POD, HIDDEN_POD_C, DEPENDENT];

interface RawResponse {
  status: number;
  raw: string;
  body: string;
}

/** Sends exact bytes and reads the whole answer (the request asks the server to close). */
function sendRaw(port: number, bytes: string, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0);
      const split = raw.indexOf('\r\n\r\n');
      let body = split < 0 ? '' : raw.slice(split + 4);
      if (/\r\ntransfer-encoding: chunked\r\n/i.test(raw.slice(0, split))) body = unchunk(body);
      resolve({ status, raw, body });
    });
  });
}

function unchunk(s: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const eol = s.indexOf('\r\n', i);
    if (eol < 0) return out;
    const size = parseInt(s.slice(i, eol), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

function request(method: string, target: string, options: { version?: string; body?: string | object; headers?: string[] } = {}): string {
  const body = options.body === undefined ? '' : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers = [
    'Host: d',
    'Connection: close',
    ...(body === '' ? [] : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`]),
    ...(options.headers ?? []),
  ];
  return `${method} ${target} HTTP/${options.version ?? '1.1'}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

/** What the client wrote, decoded once and twice (a name it double-encoded is still its own). */
function written(bytes: string): string {
  let once = bytes;
  let twice = bytes;
  try {
    once = decodeURIComponent(bytes);
  } catch {
    once = bytes.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  try {
    twice = decodeURIComponent(once);
  } catch {
    twice = once.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return `${bytes}\n${once}\n${twice}`;
}

const nameIn = (name: string, text: string) => new RegExp(`${name.replace(/[-]/g, '\\-')}(?![\\w-])`).test(text);

/**
 * - `denied`: an error (≥ 400), nothing of the hidden container;
 * - `like-missing`: the same status and body as the same request naming pm-nope (an error, or for a stats an empty
 *   answer: no data, and no oracle either);
 * - `refused`: 403 (a route docker-sieve refuses while filtering);
 * - `no-leak`: any answer, nothing of the hidden container (a list, a stats of several, a kube of several);
 * - `ok`: 200 or 204, nothing of the hidden container (the controls: the visible one, lists).
 */
type Expect = 'denied' | 'like-missing' | 'refused' | 'no-leak' | 'ok';

interface Shape {
  title: string;
  /** The request naming `name` (default the hidden container's; `like-missing` asks again with pm-nope). */
  build: (name?: string) => string;
  expect: Expect;
  /** Checked after the answer (the fixture is untouched). */
  after?: () => Promise<void>;
  timeoutMs?: number;
}

describePodman('no libpod request shape reaches a hidden container (raw requests through docker-sieve to Podman)', () => {
  let sieve: RunningSieve;
  const ids: Record<string, string> = {};
  let execId = '';
  let startedAt = '';
  const since = Math.floor(Date.now() / 1000) - 1;
  const direct = () => ({ socketPath: podmanSock() });
  const exists = async (name: string) => (await podman(['container', 'exists', name])).code === 0;

  beforeAll(async () => {
    await removePodmanPods(PODS);
    await removePodmanContainers(CONTAINERS);
    ids[VISIBLE] = await runPodmanContainer({ name: VISIBLE, labels: { homepage: 'yes' }, cmd: ['sh', '-c', 'echo visible log; exec sleep 3600'] });
    ids[HIDDEN] = await runPodmanContainer({
      name: HIDDEN,
      env: { SECRET_TOKEN: SECRET },
      cmd: ['sh', '-c', `echo "token is $SECRET_TOKEN"; exec ${HIDDEN_CMD}`],
    });
    ids[BASE] = await runPodmanContainer({ name: BASE, labels: { homepage: 'yes' } });
    // Hidden, and it depends on a visible one: `rm --depend pm-bp-base` would take it too.
    ids[DEPENDENT] = await runPodmanContainer({ name: DEPENDENT, env: { SECRET_TOKEN: SECRET }, extraArgs: ['--requires', BASE] });
    ids[HIDDEN_POD] = await createPodmanPod({ name: HIDDEN_POD, infra: false });
    ids[HIDDEN_POD_C] = await runPodmanContainer({ name: HIDDEN_POD_C, pod: HIDDEN_POD, env: { SECRET_TOKEN: SECRET }, extraArgs: ['--network', 'none'] });
    // An exec session made straight on Podman, never started: `cat /proc/1/environ` would print the secret.
    const exec = await libpodRequest(direct(), 'POST', `/v4.3.1/libpod/containers/${HIDDEN}/exec`, { Cmd: ['cat', '/proc/1/environ'], AttachStdout: true, AttachStderr: true });
    expect(exec.status, exec.body).toBe(201);
    execId = (JSON.parse(exec.body) as { Id: string }).Id;
    startedAt = await podmanOk(['inspect', '--format', '{{.State.StartedAt}}', HIDDEN]);
    sieve = await startSieve({ PROXY_URL: `unix://${podmanSock()}`, CONTAINER_LABELS: 'homepage', CONTAINER_NAMES: 'pm-vis-name' });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await removePodmanPods(PODS);
    await removePodmanContainers(CONTAINERS);
  });

  const dependIntact = async () => {
    expect(await exists(BASE), `${BASE} is still there`).toBe(true);
    expect(await exists(DEPENDENT), `${DEPENDENT} is still there`).toBe(true);
  };
  const hiddenIntact = async () => {
    expect(await podmanOk(['inspect', '--format', '{{.State.StartedAt}} {{.State.Running}}', HIDDEN])).toBe(`${startedAt} true`);
  };
  const nothingCreated = async () => {
    const names = (await podmanOk(['ps', '-a', '--format', '{{.Names}}'])).split('\n');
    expect(names.filter((n) => n.startsWith('pm-bp-leak'))).toEqual([]);
  };

  const shapes: Shape[] = [];
  const add = (title: string, build: (name?: string) => string, expectation: Expect, extra: Partial<Shape> = {}) =>
    shapes.push({ title, build, expect: expectation, ...extra });
  const get = (target: (n: string) => string, opts?: Parameters<typeof request>[2]) => (n = HIDDEN) => request('GET', target(n), opts);

  // Version prefixes × the container routes that read.
  const PREFIXES = ['/v4.3.1', '/v1.41', '/v4.0.0-dev', '/V4.3.1', ''];
  const READS: Array<[string, (n: string) => string]> = [
    ['inspect', (n) => `/libpod/containers/${n}/json?size=false`],
    ['logs', (n) => `/libpod/containers/${n}/logs?stdout=true&stderr=true`],
    ['top', (n) => `/libpod/containers/${n}/top`],
    ['changes', (n) => `/libpod/containers/${n}/changes`],
    ['exists', (n) => `/libpod/containers/${n}/exists?external=false`],
    ['export', (n) => `/libpod/containers/${n}/export`],
    ['archive', (n) => `/libpod/containers/${n}/archive?path=%2Fproc%2F1%2Fenviron`],
    ['healthcheck', (n) => `/libpod/containers/${n}/healthcheck`],
    ['stats (one)', (n) => `/libpod/containers/${n}/stats?stream=false`],
  ];
  for (const prefix of PREFIXES) {
    const shown = prefix === '' ? 'no prefix' : prefix;
    for (const [what, path] of READS) {
      // With the prefix Podman routes, the answer must be Podman's own for a missing container; elsewhere an error.
      add(`GET ${what}, ${shown}`, get((n) => `${prefix}${path(n)}`), prefix === '/v4.3.1' || prefix === '/v1.41' ? 'like-missing' : 'denied');
    }
    add(`HEAD exists, ${shown}`, (n = HIDDEN) => request('HEAD', `${prefix}/libpod/containers/${n}/exists`), 'like-missing');
    add(`HEAD archive, ${shown}`, (n = HIDDEN) => request('HEAD', `${prefix}/libpod/containers/${n}/archive?path=%2Fetc%2Fhostname`), 'like-missing');
    add(`generate kube, ${shown}`, get((n) => `${prefix}/libpod/generate/kube?names=${n}&service=false`), prefix === '/v4.3.1' || prefix === '/v1.41' ? 'like-missing' : 'denied');
    add(`generate systemd --new, ${shown}`, get((n) => `${prefix}/libpod/generate/${n}/systemd?new=true`), prefix === '/v4.3.1' || prefix === '/v1.41' ? 'like-missing' : 'denied');
    add(`stats containers=, ${shown}`, get((n) => `${prefix}/libpod/containers/stats?stream=false&containers=${n}`), prefix === '/v4.3.1' || prefix === '/v1.41' ? 'like-missing' : 'no-leak');
    add(`GET exists of the pod, ${shown}`, get((n) => `${prefix}/libpod/pods/${n === NOPE ? 'pm-nope-pod' : HIDDEN_POD}/exists`), 'denied');
  }

  // Encodings.
  add('percent-encoded first letter (%70m-hidden)', get(() => '/v4.3.1/libpod/containers/%70m-hidden/json'), 'denied');
  add('percent-encoded dash (pm%2Dhidden)', get(() => '/v4.3.1/libpod/containers/pm%2Dhidden/json'), 'denied');
  add('percent-encoded, every letter', get(() => `/v4.3.1/libpod/containers/${[...HIDDEN].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}/json`), 'denied');
  add('percent-encoded, upper-case hex', get(() => '/v4.3.1/libpod/containers/%70%6D-hidden/logs?stdout=true'), 'denied');
  add('encoded slash before the action (%2F)', get(() => '/v4.3.1/libpod/containers/pm-hidden%2Fjson'), 'denied');
  add('encoded slash, lower case (%2f), logs', get(() => '/v4.3.1/libpod/containers/pm-hidden%2flogs?stdout=true'), 'denied');
  add('encoded slash inside the name (visible/../hidden)', get(() => '/v4.3.1/libpod/containers/pm-vis-label%2F..%2Fpm-hidden/json'), 'denied');
  add('double-encoded first letter (%2570m-hidden)', get(() => '/v4.3.1/libpod/containers/%2570m-hidden/json'), 'denied');
  add('double-encoded dash (pm%252Dhidden)', get(() => '/v4.3.1/libpod/containers/pm%252Dhidden/json'), 'denied');
  add('double-encoded slash (%252F)', get(() => '/v4.3.1/libpod/containers/pm-hidden%252Fjson'), 'denied');
  add('encoded NUL', get(() => '/v4.3.1/libpod/containers/pm-hidden%00/json'), 'denied');
  add('encoded libpod segment (%6cibpod)', get(() => '/v4.3.1/%6cibpod/containers/pm-hidden/json'), 'denied');
  add('encoded containers segment (%63ontainers)', get(() => '/v4.3.1/libpod/%63ontainers/pm-hidden/json'), 'denied');
  add('encoded action (%6Ason)', get(() => '/v4.3.1/libpod/containers/pm-hidden/%6Ason'), 'denied');
  add('encoded version (%764.3.1)', get(() => '/%764.3.1/libpod/containers/pm-hidden/json'), 'denied');
  add('encoded dots (%2e%2e) from a visible container', get(() => '/v4.3.1/libpod/containers/pm-vis-label/%2e%2e/pm-hidden/json'), 'denied');
  add('percent-encoded generate systemd name', get(() => '/v4.3.1/libpod/generate/%70m-hidden/systemd?new=true'), 'denied');
  add('percent-encoded kube names value', get(() => '/v4.3.1/libpod/generate/kube?names=%70m-hidden'), 'denied');
  add('percent-encoded stats containers value', get(() => '/v4.3.1/libpod/containers/stats?stream=false&containers=%70m-hidden'), 'no-leak');
  add('plus in the query name (names=pm-hidden+)', get(() => '/v4.3.1/libpod/generate/kube?names=pm-hidden+'), 'no-leak');

  // Slashes and dot segments.
  add('duplicate slash after the version', get(() => '/v4.3.1//libpod/containers/pm-hidden/json'), 'denied');
  add('duplicate slash in front', get(() => '//v4.3.1/libpod/containers/pm-hidden/json'), 'denied');
  add('duplicate slash after libpod', get(() => '/v4.3.1/libpod//containers/pm-hidden/json'), 'denied');
  add('duplicate slash before the name', get(() => '/v4.3.1/libpod/containers//pm-hidden/json'), 'denied');
  add('duplicate slash before the action', get(() => '/v4.3.1/libpod/containers/pm-hidden//json'), 'denied');
  add('dot segment before libpod', get(() => '/v4.3.1/./libpod/containers/pm-hidden/json'), 'denied');
  add('dot segment before the name', get(() => '/v4.3.1/libpod/containers/./pm-hidden/json'), 'denied');
  add('dot segment before the action', get(() => '/v4.3.1/libpod/containers/pm-hidden/./json'), 'denied');
  add('dot-dot from a missing name', get(() => '/v4.3.1/libpod/containers/nope/../pm-hidden/json'), 'denied');
  add('dot-dot from the visible container', get(() => '/v4.3.1/libpod/containers/pm-vis-label/../pm-hidden/json'), 'denied');
  add('dot-dot from the visible container, logs', get(() => '/v4.3.1/libpod/containers/pm-vis-label/../pm-hidden/logs?stdout=true'), 'denied');
  add('dot-dot over the images family', get(() => '/v4.3.1/images/../libpod/containers/pm-hidden/json'), 'denied');
  add('dot-dot over the version', get(() => '/v4.3.1/../libpod/containers/pm-hidden/json'), 'denied');
  add('dot-dot over the libpod _ping', get(() => '/v4.3.1/libpod/_ping/../containers/pm-hidden/json'), 'denied');
  add('dot-dot over generate', get(() => '/v4.3.1/libpod/generate/../containers/pm-hidden/json'), 'denied');
  add('trailing slash', get(() => '/v4.3.1/libpod/containers/pm-hidden/json/'), 'denied');
  add('generate systemd with a slash in the name', get(() => '/v4.3.1/libpod/generate/pm-vis-label/../pm-hidden/systemd?new=true'), 'denied');
  add('healthcheck with a slash in the name', get(() => '/v4.3.1/libpod/containers/pm-vis-label/../pm-hidden/healthcheck'), 'denied');

  // Case.
  add('upper-case LIBPOD', get(() => '/v4.3.1/LIBPOD/containers/pm-hidden/json'), 'denied');
  add('capitalised Containers', get(() => '/v4.3.1/libpod/Containers/pm-hidden/json'), 'denied');
  add('upper-case action (JSON)', get(() => '/v4.3.1/libpod/containers/pm-hidden/JSON'), 'denied');
  add('upper-case name (PM-HIDDEN)', get(() => '/v4.3.1/libpod/containers/PM-HIDDEN/json'), 'denied');
  add('upper-case full ID', () => request('GET', `/v4.3.1/libpod/containers/${ids[HIDDEN]!.toUpperCase()}/json`), 'denied');

  // Refs by ID.
  add('full ID', () => request('GET', `/v4.3.1/libpod/containers/${ids[HIDDEN]}/json`), 'denied');
  add('12-character ID prefix', () => request('GET', `/v4.3.1/libpod/containers/${ids[HIDDEN]!.slice(0, 12)}/json`), 'denied');
  add('5-character ID prefix, logs', () => request('GET', `/v4.3.1/libpod/containers/${ids[HIDDEN]!.slice(0, 5)}/logs?stdout=true`), 'denied');
  add('full ID, top', () => request('GET', `/v4.3.1/libpod/containers/${ids[HIDDEN]}/top`), 'denied');
  add('generate kube by ID prefix', () => request('GET', `/v4.3.1/libpod/generate/kube?names=${ids[HIDDEN]!.slice(0, 12)}`), 'denied');
  add('stats by ID', () => request('GET', `/v4.3.1/libpod/containers/stats?stream=false&containers=${ids[HIDDEN]}`), 'no-leak');

  // Query keys in another case, repeated keys (Podman reads keys in any case and takes repeated ones all).
  add('stats CONTAINERS=pm-hidden', get((n) => `/v4.3.1/libpod/containers/stats?stream=false&CONTAINERS=${n}`), 'like-missing');
  add('stats Containers=pm-hidden', get((n) => `/v4.3.1/libpod/containers/stats?stream=false&Containers=${n}`), 'like-missing');
  add('stats, streaming (interval=1), containers=pm-hidden', get((n) => `/v4.3.1/libpod/containers/stats?stream=true&interval=1&containers=${n}`), 'no-leak', { timeoutMs: 4_000 });
  add('stats containers=visible&CONTAINERS=hidden', get(() => '/v4.3.1/libpod/containers/stats?stream=false&containers=pm-vis-label&CONTAINERS=pm-hidden'), 'no-leak');
  add('stats containers=visible&containers=hidden', get(() => '/v4.3.1/libpod/containers/stats?stream=false&containers=pm-vis-label&containers=pm-hidden'), 'no-leak');
  add('stats containers=hidden,visible', get(() => '/v4.3.1/libpod/containers/stats?stream=false&containers=pm-hidden,pm-vis-label'), 'no-leak');
  add('stats, every running container', get(() => '/v4.3.1/libpod/containers/stats?stream=false'), 'ok');
  add('stats, every running container, all=true', get(() => '/v4.3.1/libpod/containers/stats?stream=false&all=true'), 'ok');
  add('generate kube NAMES=pm-hidden', get(() => '/v4.3.1/libpod/generate/kube?NAMES=pm-hidden'), 'denied');
  add('generate kube Names=pm-hidden', get(() => '/v4.3.1/libpod/generate/kube?Names=pm-hidden'), 'denied');
  add('generate kube names=visible&NAMES=hidden', get(() => '/v4.3.1/libpod/generate/kube?names=pm-vis-label&NAMES=pm-hidden'), 'no-leak');
  add('generate kube names=visible&names=hidden', get(() => '/v4.3.1/libpod/generate/kube?names=pm-vis-label&names=pm-hidden'), 'no-leak');
  add('generate kube of the hidden pod', get((n) => `/v4.3.1/libpod/generate/kube?names=${pod(n)}`), 'like-missing');
  add('generate kube with no names', get(() => '/v4.3.1/libpod/generate/kube'), 'no-leak');
  add('kube generate (the newer route) names=pm-hidden', get(() => '/v4.3.1/libpod/kube/generate?names=pm-hidden'), 'denied');
  add('kube generate NAMES=pm-hidden', get(() => '/v4.3.1/libpod/kube/generate?NAMES=pm-hidden'), 'denied');
  add('generate systemd of the hidden pod', get(() => '/v4.3.1/libpod/generate/pm-hidden-pod/systemd?new=true'), 'denied');
  add('generate systemd of the hidden pod container', get(() => '/v4.3.1/libpod/generate/pm-hidden-pod-c/systemd?new=true'), 'denied');
  const pod = (n: string) => (n === NOPE ? 'pm-nope-pod' : HIDDEN_POD);
  add('pods stats namesOrIDs=pm-hidden-pod', get((n) => `/v4.3.1/libpod/pods/stats?namesOrIDs=${pod(n)}`), 'like-missing');
  add('pods stats NAMESORIDS=pm-hidden-pod', get((n) => `/v4.3.1/libpod/pods/stats?NAMESORIDS=${pod(n)}`), 'like-missing');
  add('pods stats namesorids=pm-hidden-pod', get((n) => `/v4.3.1/libpod/pods/stats?namesorids=${pod(n)}`), 'like-missing');
  add('pods stats all=true', get(() => '/v4.3.1/libpod/pods/stats?all=true'), 'no-leak');
  add('pods stats, no pod named (all)', get(() => '/v4.3.1/libpod/pods/stats'), 'no-leak');
  add('logs with a visible name in the query', get(() => '/v4.3.1/libpod/containers/pm-hidden/logs?stdout=true&name=pm-vis-label'), 'denied');

  // Pods.
  add('pod inspect of the hidden pod', get((n) => `/v4.3.1/libpod/pods/${pod(n)}/json`), 'like-missing');
  add('pod exists of the hidden pod', get((n) => `/v4.3.1/libpod/pods/${pod(n)}/exists`), 'like-missing');
  add('pod top of the hidden pod', get((n) => `/v4.3.1/libpod/pods/${pod(n)}/top`), 'like-missing');
  add('pod inspect, encoded', get(() => '/v4.3.1/libpod/pods/%70m-hidden-pod/json'), 'denied');
  add('pod inspect by ID', () => request('GET', `/v4.3.1/libpod/pods/${ids[HIDDEN_POD]}/json`), 'denied');
  add('pods list', get(() => '/v4.3.1/libpod/pods/json'), 'ok');
  add('pods list filtered on the hidden pod', get(() => `/v4.3.1/libpod/pods/json?filters=${encodeURIComponent('{"name":["pm-hidden-pod"]}')}`), 'ok');
  add('pod restart of the hidden pod', () => request('POST', '/v4.3.1/libpod/pods/pm-hidden-pod/restart'), 'denied');
  add('pod kill of the hidden pod (SIGCONT)', () => request('POST', '/v4.3.1/libpod/pods/pm-hidden-pod/kill?signal=SIGCONT'), 'denied');
  add('pod delete of the hidden pod', () => request('DELETE', '/v4.3.1/libpod/pods/pm-hidden-pod?force=true'), 'denied', {
    after: async () => expect((await podman(['pod', 'exists', HIDDEN_POD])).code).toBe(0),
  });

  // Actions on the hidden container.
  add('restart', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/restart?t=0`), 'like-missing', { after: hiddenIntact });
  add('stop', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/stop?timeout=0`), 'like-missing', { after: hiddenIntact });
  add('kill (SIGCONT)', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/kill?signal=SIGCONT`), 'like-missing');
  add('pause', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/pause`), 'like-missing', { after: hiddenIntact });
  add('rename', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/rename?name=pm-bp-leak-0`), 'like-missing', { after: nothingCreated });
  add('mount', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/mount`), 'like-missing');
  add('wait', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/wait?condition=running`), 'like-missing');
  add('attach without upgrade', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/attach?logs=true&stdout=true`), 'like-missing');
  add('delete (force)', (n = HIDDEN) => request('DELETE', `/v4.3.1/libpod/containers/${n}?force=true`), 'like-missing', { after: hiddenIntact });
  add('exec create', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/exec`, { body: { Cmd: ['cat', '/proc/1/environ'], AttachStdout: true } }), 'like-missing');
  add('exec create, encoded name', () => request('POST', '/v4.3.1/libpod/containers/%70m-hidden/exec', { body: { Cmd: ['cat', '/proc/1/environ'], AttachStdout: true } }), 'denied');
  add('PUT archive', (n = HIDDEN) => request('PUT', `/v4.3.1/libpod/containers/${n}/archive?path=/tmp`, { body: 'x' }), 'like-missing');
  add('checkpoint', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/containers/${n}/checkpoint`), 'denied', { after: hiddenIntact });
  add('restore into a pod', () => request('POST', '/v4.3.1/libpod/containers/pm-vis-label/restore?pod=pm-hidden-pod'), 'denied');

  // depend=true on DELETE: removes the containers that depend on this one (pm-bp-dependent, hidden) too.
  for (const [title, query] of [
    ['depend=true', 'depend=true&force=true'],
    ['DEPEND=true', 'DEPEND=true&force=true'],
    ['Depend=TRUE', 'Depend=TRUE&force=true'],
    ['depend=1', 'depend=1&force=true'],
    ['depend=t', 'depend=t&force=true'],
    ['depend=True', 'depend=True&force=true'],
    ['depend=false&depend=true (the last one counts)', 'depend=false&depend=true&force=true'],
    ['depend=true, force=1, volumes', 'force=1&volumes=true&depend=true'],
  ] as const) {
    add(`DELETE pm-bp-base?${title}`, () => request('DELETE', `/v4.3.1/libpod/containers/${BASE}?${query}`), 'refused', { after: dependIntact });
  }
  add('DELETE pm-bp-base?depend=true, /v1.41', () => request('DELETE', `/v1.41/libpod/containers/${BASE}?depend=true&force=true`), 'refused', { after: dependIntact });
  add('DELETE pm-bp-base?depend=true, no prefix', () => request('DELETE', `/libpod/containers/${BASE}?depend=true&force=true`), 'denied', { after: dependIntact });
  add('DELETE pm-bp-base?depend=true, encoded name', () => request('DELETE', '/v4.3.1/libpod/containers/pm%2Dbp-base?depend=true&force=true'), 'refused', { after: dependIntact });
  add('DELETE pm-hidden?depend=true', () => request('DELETE', '/v4.3.1/libpod/containers/pm-hidden?depend=true&force=true'), 'denied', { after: hiddenIntact });

  // Exec sessions made straight on Podman.
  add('exec inspect', () => request('GET', `/v4.3.1/libpod/exec/${execId}/json`), 'denied');
  add('exec inspect, no prefix', () => request('GET', `/libpod/exec/${execId}/json`), 'denied');
  add('exec inspect, /v1.41', () => request('GET', `/v1.41/libpod/exec/${execId}/json`), 'denied');
  add('exec inspect, 12-character ID', () => request('GET', `/v4.3.1/libpod/exec/${execId.slice(0, 12)}/json`), 'denied');
  add('exec start', () => request('POST', `/v4.3.1/libpod/exec/${execId}/start`, { body: { Detach: false, Tty: false } }), 'denied');
  add('exec start, dot segment', () => request('POST', `/v4.3.1/libpod/exec/x/../${execId}/start`, { body: { Detach: false, Tty: false } }), 'denied');
  add('exec resize', () => request('POST', `/v4.3.1/libpod/exec/${execId}/resize?h=10&w=10`), 'denied');
  add('Docker-compatible exec inspect of it', () => request('GET', `/v1.41/exec/${execId}/json`), 'denied');

  // Refs to the hidden container in create, commit and connect.
  // `like-missing`: a ref to the hidden container gets what a ref to pm-nope gets (nothing is created either way).
  const create = (i: number, extra: (n: string) => object) => (n = HIDDEN) =>
    request('POST', '/v4.3.1/libpod/containers/create', { body: { name: `pm-bp-leak-${i}`, image: 'local/busybox:1', command: ['true'], ...extra(n) } });
  add('create, netns container:pm-hidden', create(1, (n) => ({ netns: { nsmode: 'container', value: n } })), 'like-missing', { after: nothingCreated });
  add('create, NETNS (keys in upper case)', (n = HIDDEN) => request('POST', '/v4.3.1/libpod/containers/create', { body: `{"NAME":"pm-bp-leak-2","IMAGE":"local/busybox:1","COMMAND":["true"],"NETNS":{"NSMODE":"container","VALUE":"${n}"}}` }), 'like-missing', { after: nothingCreated });
  add('create, pidns container:pm-hidden', create(3, (n) => ({ pidns: { nsmode: 'container', value: n } })), 'like-missing', { after: nothingCreated });
  add('create, ipcns container:pm-hidden', create(4, (n) => ({ ipcns: { nsmode: 'container', value: n } })), 'like-missing', { after: nothingCreated });
  add('create, utsns container:pm-hidden', create(5, (n) => ({ utsns: { nsmode: 'container', value: n } })), 'like-missing', { after: nothingCreated });
  add('create, volumes_from pm-hidden', create(6, (n) => ({ volumes_from: [n] })), 'like-missing', { after: nothingCreated });
  add('create, volumes_from pm-hidden:ro', create(6, (n) => ({ volumes_from: [`${n}:ro`] })), 'like-missing', { after: nothingCreated });
  add('create, dependencyContainers pm-hidden', create(7, (n) => ({ dependencyContainers: [n] })), 'like-missing', { after: nothingCreated });
  add('create, in the hidden pod', create(8, (n) => ({ pod: n === NOPE ? 'pm-nope-pod' : HIDDEN_POD })), 'like-missing', { after: nothingCreated });
  add('create, netns by ID prefix', () => create(9, () => ({ netns: { nsmode: 'container', value: ids[HIDDEN]!.slice(0, 12) } }))(), 'denied', { after: nothingCreated });
  add('create, netns percent-encoded (bodies are not decoded)', create(9, () => ({ netns: { nsmode: 'container', value: '%70m-hidden' } })), 'denied', { after: nothingCreated });
  add('create, duplicate netns key (the last one counts in Go)', (n = HIDDEN) => request('POST', '/v4.3.1/libpod/containers/create', { body: `{"name":"pm-bp-leak-10","image":"local/busybox:1","command":["true"],"netns":{"nsmode":"none"},"netns":{"nsmode":"container","value":"${n}"}}` }), 'like-missing', { after: nothingCreated });
  add('Docker-compatible create, NetworkMode container:pm-hidden', (n = HIDDEN) => request('POST', '/v1.41/containers/create?name=pm-bp-leak-11', { body: { Image: 'local/busybox:1', HostConfig: { NetworkMode: `container:${n}` } } }), 'like-missing', { after: nothingCreated });
  add('commit ?container=pm-hidden', (n = HIDDEN) => request('POST', `/v4.3.1/libpod/commit?container=${n}&repo=local%2Fleak&tag=1`), 'like-missing');
  add('commit ?CONTAINER=pm-hidden', () => request('POST', '/v4.3.1/libpod/commit?CONTAINER=pm-hidden&repo=local%2Fleak&tag=2'), 'denied');
  add('commit ?container=visible&container=hidden', () => request('POST', '/v4.3.1/libpod/commit?container=pm-vis-label&container=pm-hidden&repo=local%2Fleak&tag=3'), 'denied');
  add('network connect {"container": pm-hidden}', (n = HIDDEN) => request('POST', '/v4.3.1/libpod/networks/podman/connect', { body: { container: n } }), 'like-missing');
  add('network connect {"Container": pm-hidden}', () => request('POST', '/v4.3.1/libpod/networks/podman/connect', { body: { Container: HIDDEN } }), 'denied');
  add('network connect, both keys (the last one counts)', () => request('POST', '/v4.3.1/libpod/networks/podman/connect', { body: '{"container":"pm-vis-label","CONTAINER":"pm-hidden"}' }), 'denied');
  add('network disconnect {"Container": pm-hidden}', () => request('POST', '/v4.3.1/libpod/networks/podman/disconnect', { body: { Container: HIDDEN, Force: true } }), 'denied');
  add('pod create with volumes_from pm-hidden', () => request('POST', '/v4.3.1/libpod/pods/create', { body: { name: 'pm-bp-leak-pod', infra: false, volumes_from: [HIDDEN] } }), 'denied', {
    after: async () => expect((await podman(['pod', 'exists', 'pm-bp-leak-pod'])).code).toBe(1),
  });
  add('kube play', () => request('POST', '/v4.3.1/libpod/play/kube', { body: `apiVersion: v1\nkind: Pod\nmetadata:\n  name: pm-bp-leak-pod\n` }), 'refused', {
    after: async () => expect((await podman(['pod', 'exists', 'pm-bp-leak-pod'])).code).toBe(1),
  });

  // HTTP/1.0, absolute-form, odd methods.
  add('HTTP/1.0', get(() => '/v4.3.1/libpod/containers/pm-hidden/json', { version: '1.0' }), 'denied');
  add('HTTP/1.0 logs', get(() => '/v4.3.1/libpod/containers/pm-hidden/logs?stdout=true', { version: '1.0' }), 'denied');
  add('absolute-form target', get(() => 'http://d/v4.3.1/libpod/containers/pm-hidden/json'), 'denied');
  add('absolute-form target, generate kube', get(() => 'http://d/v4.3.1/libpod/generate/kube?names=pm-hidden'), 'denied');
  add('absolute-form target naming the visible host', get(() => 'http://pm-vis-label/v4.3.1/libpod/containers/pm-hidden/json'), 'denied');
  add('fragment after the action', get(() => '/v4.3.1/libpod/containers/pm-hidden/json#x'), 'denied');
  add('HEAD on inspect', () => request('HEAD', '/v4.3.1/libpod/containers/pm-hidden/json'), 'denied');
  add('OPTIONS', () => request('OPTIONS', '/v4.3.1/libpod/containers/pm-hidden/json'), 'denied');
  add('POST on inspect', () => request('POST', '/v4.3.1/libpod/containers/pm-hidden/json'), 'denied');
  add('lower-case method (get)', () => request('get', '/v4.3.1/libpod/containers/pm-hidden/json'), 'denied');

  // Lists, events, df: they answer, without the hidden container.
  add('containers list', get(() => '/v4.3.1/libpod/containers/json?all=true'), 'ok');
  add('containers list, the podman client query', get(() => '/v4.3.1/libpod/containers/json?all=true&external=false&filters=%7B%7D&last=-1&namespace=false&size=false&sync=false'), 'ok');
  add('containers list filtered on its name', get(() => `/v4.3.1/libpod/containers/json?all=true&filters=${encodeURIComponent('{"name":["pm-hidden"]}')}`), 'ok');
  add('containers list filtered on its ID', () => request('GET', `/v4.3.1/libpod/containers/json?all=true&filters=${encodeURIComponent(`{"id":["${ids[HIDDEN]}"]}`)}`), 'ok');
  add('containers list filtered on the hidden pod', get(() => `/v4.3.1/libpod/containers/json?all=true&filters=${encodeURIComponent('{"pod":["pm-hidden-pod"]}')}`), 'ok');
  add('containers list, external=true', get(() => '/v4.3.1/libpod/containers/json?all=true&external=true'), 'ok');
  add('containers list, namespace=true&size=true', get(() => '/v4.3.1/libpod/containers/json?all=true&namespace=true&size=true'), 'ok');
  add('containers list, /v1.41', get(() => '/v1.41/libpod/containers/json?all=true'), 'ok');
  add('containers list, ALL=TRUE', get(() => '/v4.3.1/libpod/containers/json?ALL=TRUE'), 'ok');
  add('system df', get(() => '/v4.3.1/libpod/system/df'), 'ok');
  add('system df, /v1.41', get(() => '/v1.41/libpod/system/df'), 'ok');
  const until = () => Math.floor(Date.now() / 1000) + 2;
  add('events, stream=false', () => request('GET', `/v4.3.1/libpod/events?stream=false&since=${since}&until=${until()}`), 'ok', { timeoutMs: 15_000 });
  add('events filtered on it', () => request('GET', `/v4.3.1/libpod/events?stream=false&since=${since}&until=${until()}&filters=${encodeURIComponent('{"container":["pm-hidden"]}')}`), 'ok', { timeoutMs: 15_000 });
  add('events, FILTERS in upper case', () => request('GET', `/v4.3.1/libpod/events?stream=false&since=${since}&until=${until()}&FILTERS=${encodeURIComponent('{"container":["pm-hidden"]}')}`), 'ok', { timeoutMs: 15_000 });
  add('Docker-compatible events', () => request('GET', `/v1.41/events?since=${since}&until=${until()}`), 'ok', { timeoutMs: 15_000 });
  add('libpod info', get(() => '/v4.3.1/libpod/info'), 'ok');

  // Controls: the visible container answers (so the denials above are not a proxy that answers nothing).
  add('control: visible inspect', get(() => '/v4.3.1/libpod/containers/pm-vis-label/json'), 'ok');
  add('control: visible inspect, /v1.41', get(() => '/v1.41/libpod/containers/pm-vis-label/json'), 'ok');
  add('control: visible inspect, percent-encoded', get(() => '/v4.3.1/libpod/containers/%70m-vis-label/json'), 'ok');
  add('control: visible exists', get(() => '/v4.3.1/libpod/containers/pm-vis-label/exists'), 'ok');
  add('control: visible logs', get(() => '/v4.3.1/libpod/containers/pm-vis-label/logs?stdout=true'), 'ok');
  add('control: visible top', get(() => '/v4.3.1/libpod/containers/pm-vis-label/top'), 'ok');
  add('control: visible stats', get(() => '/v4.3.1/libpod/containers/stats?stream=false&containers=pm-vis-label'), 'ok');
  add('control: create sharing the visible container\'s network namespace', () =>
    request('POST', '/v4.3.1/libpod/containers/create', { body: { name: 'pm-bp-side', image: 'local/busybox:1', command: ['true'], netns: { nsmode: 'container', value: VISIBLE } } }), 'ok', {
    after: async () => {
      expect(await exists('pm-bp-side')).toBe(true);
      await removePodmanContainers(['pm-bp-side']);
    },
  });
  add('control: visible generate kube', get(() => '/v4.3.1/libpod/generate/kube?names=pm-vis-label'), 'ok');

  it('has at least 150 shapes', () => {
    expect(shapes.length).toBeGreaterThanOrEqual(150);
  });

  it('the fixture, straight to Podman: the hidden container answers with its secret (the leak to close)', async () => {
    const kube = await libpodRequest(direct(), 'GET', `/v4.3.1/libpod/generate/kube?names=${HIDDEN}`);
    expect(kube.status).toBe(200);
    expect(kube.body).toContain(SECRET);
    const top = await libpodRequest(direct(), 'GET', `/v4.3.1/libpod/containers/${HIDDEN}/top`);
    expect(top.body).toContain(HIDDEN_CMD);
    const stats = await libpodRequest(direct(), 'GET', `/v4.3.1/libpod/containers/stats?stream=false&CONTAINERS=${HIDDEN}`);
    expect(stats.body).toContain(ids[HIDDEN]);
  });

  it.each(shapes.map((s) => [s.title, s] as const))('%s', async (_title, shape) => {
    const bytes = shape.build();
    const response = await sendRaw(sieve.port, bytes, shape.timeoutMs);
    expect(response.status, response.raw.slice(0, 600)).toBeGreaterThan(0);
    const raw = response.raw;
    for (const marker of [SECRET, HIDDEN_CMD]) expect(raw, `${marker} in the answer`).not.toContain(marker);
    const asked = written(bytes).toLowerCase();
    for (const id of [ids[HIDDEN]!, ids[DEPENDENT]!, ids[HIDDEN_POD_C]!, ids[HIDDEN_POD]!]) {
      if (!asked.includes(id)) expect(raw, 'a hidden ID in the answer').not.toContain(id);
      if (!asked.includes(id.slice(0, 12))) expect(raw, 'a hidden short ID in the answer').not.toContain(id.slice(0, 12));
    }
    for (const name of HIDDEN_NAMES) {
      if (!nameIn(name, asked)) expect(nameIn(name, raw), `${name} in the answer: ${raw.slice(0, 600)}`).toBe(false);
    }
    switch (shape.expect) {
      case 'denied':
        expect(response.status, raw.slice(0, 600)).toBeGreaterThanOrEqual(400);
        break;
      case 'refused':
        expect(response.status, raw.slice(0, 600)).toBe(403);
        expect(response.body).toMatch(/docker-sieve/);
        break;
      case 'like-missing': {
        const missing = await sendRaw(sieve.port, shape.build(NOPE), shape.timeoutMs);
        expect({ status: response.status, body: response.body }).toEqual({ status: missing.status, body: missing.body.replaceAll(NOPE, HIDDEN) });
        break;
      }
      case 'ok':
        expect([200, 201, 204], raw.slice(0, 600)).toContain(response.status);
        break;
      case 'no-leak':
        break;
    }
    await shape.after?.();
  });

  it('left the hidden containers and the pod untouched, created nothing', async () => {
    await hiddenIntact();
    await dependIntact();
    expect(await exists(HIDDEN_POD_C)).toBe(true);
    expect((await podman(['pod', 'exists', HIDDEN_POD])).code).toBe(0);
    await nothingCreated();
    expect((await podman(['pod', 'exists', 'pm-bp-leak-pod'])).code).toBe(1);
    expect((await podman(['image', 'exists', 'local/leak:1'])).code).toBe(1);
    expect((await podman(['image', 'exists', 'local/leak:2'])).code).toBe(1);
    expect((await podman(['image', 'exists', 'local/leak:3'])).code).toBe(1);
    // The exec session made straight was never started through docker-sieve.
    const exec = await libpodRequest(direct(), 'GET', `/v4.3.1/libpod/exec/${execId}/json`);
    expect((JSON.parse(exec.body) as { Running: boolean; ExitCode: number; Pid: number }).Pid).toBe(0);
  });
});
