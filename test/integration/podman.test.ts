// Issue 12: Podman's native (libpod) API, filtered on the real thing.
//
// A real rootful Podman 4.3.1 (the globalSetup's private `podman system service`) is the upstream, reached by
// docker-sieve straight on its unix socket. Every case runs the podman remote client twice: STRAIGHT to Podman
// (`podman --url unix://SOCK …`) and THROUGH docker-sieve (`podman --url tcp://127.0.0.1:PORT …`). What a client
// may see comes out the same both ways; what it may not see fails through docker-sieve exactly as a container
// that does not exist (`pm-nope`) fails straight to Podman. Access (all, read, actions) is tried on a docker-sieve
// process with one TCP listener per profile, since the podman client cannot send an Authorization header. The
// docker CLI on Podman's Docker-compatible API, through docker-sieve, passes the same core cases as on dockerd.
// Nothing that goes through docker-sieve may ever carry the hidden container's secret: every output is kept and
// checked at the end.
//
// The raw-request bypass battery for libpod is podman-bypass.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { docker, freePort, podmanSock, requirePodman, startSieve, type DockerResult, type RunningSieve } from './harness/index.js';
import {
  createPodmanPod,
  libpodRequest,
  podman,
  podmanDir,
  podmanOk,
  removePodmanContainers,
  removePodmanPods,
  runPodmanContainer,
  type LibpodAnswer,
} from './harness/podman.js';
import { startSieveProcess, type SieveProcess } from './harness/sieve-process.js';

const describePodman = requirePodman();

const VIS_LABEL = 'pm-vis-label';
const VIS_NAME = 'pm-vis-name';
const HIDDEN = 'pm-hidden';
const STOPPED = 'pm-stopped';
const POD = 'pm-pod';
const POD_WEB = 'pm-pod-web';
const HIDDEN_POD = 'pm-hidden-pod';
const HIDDEN_POD_C = 'pm-hidden-pod-c';
const NOPE = 'pm-nope';
const NOPE_POD = 'pm-nope-pod';
const SECRET = 'hunter2-pm-secret';
/** A visible container's own env value: shown without SCRUB_ENVS, never with it. */
const VIS_SECRET = 'pm-vis-env-value-4f1';
const LIBPOD_REFUSED = "does not filter Podman's native API";

/** Throwaway containers of the access and create cases. */
const THROWAWAY = ['pm-tmp-all-rm', 'pm-tmp-all-rs', 'pm-tmp-read', 'pm-tmp-act', 'pm-side-net', 'pm-leak-net', 'pm-leak-pid', 'pm-leak-ipc', 'pm-leak-vf', 'pm-leak-req', 'pm-leak-pod'];
const CONTAINERS = [VIS_LABEL, VIS_NAME, HIDDEN, STOPPED, POD_WEB, HIDDEN_POD_C, ...THROWAWAY];
/** The containers of the fixture the filtered profiles see (running ones: all but pm-stopped). */
const VISIBLE = new Set([VIS_LABEL, VIS_NAME, STOPPED, POD_WEB]);
/** Labelled homepage=yes: the throwaways of the access and create cases are visible too, while they live. */
const visibleName = (name: string) => VISIBLE.has(name) || name.startsWith('pm-tmp-') || name === 'pm-side-net';

/** Pods of the fixture, and the ones a refused request would have made. */
const PODS = [POD, HIDDEN_POD, 'pm-leak-play', 'pm-leak-pod-create'];

const FILTERS = { CONTAINER_LABELS: 'homepage', CONTAINER_NAMES: VIS_NAME };

/** Every answer a client got through docker-sieve: the secret must be in none of them (checked last). */
const throughAnswers: Array<{ what: string; text: string }> = [];

function keep(what: string, r: DockerResult): DockerResult {
  throughAnswers.push({ what, text: `${r.stdout}\n${r.stderr}` });
  return r;
}

function keepRaw(what: string, a: LibpodAnswer): LibpodAnswer {
  throughAnswers.push({ what, text: `${JSON.stringify(a.headers)}\n${a.body}` });
  return a;
}

/** The status and the first `count` lines of a streamed answer through docker-sieve; then the client hangs up. */
function firstLines(port: number, path: string, count: number, timeoutMs = 30_000): Promise<{ status: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, headers: { Host: 'd' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const lines = text.split('\n').slice(0, -1).filter((line) => line.trim() !== '');
        if (lines.length < count) return;
        throughAnswers.push({ what: `GET ${path}`, text });
        req.destroy();
        resolve({ status: res.statusCode ?? 0, lines: lines.slice(0, count) });
      });
      res.on('end', () => reject(new Error(`GET ${path}: the stream ended after ${JSON.stringify(text)}`)));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path}: fewer than ${count} lines in ${timeoutMs} ms`)));
    req.on('error', (error) => reject(error));
    req.end();
  });
}

/** The podman remote client, straight to the private Podman service. */
function straight(args: string[], input?: string): Promise<DockerResult> {
  return podman(args, { timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
}

/** The podman remote client through docker-sieve at `url` (tcp://127.0.0.1:PORT). Everything it prints is kept. */
async function through(url: string, args: string[], input?: string): Promise<DockerResult> {
  const dir = podmanDir(podmanSock());
  const r = await podman(args, { url, dir, env: { HOME: join(dir, 'client-home') }, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
  return keep(`podman ${args.join(' ')} via ${url}`, r);
}

/**
 * Exit code and output, with `from` written as `to`: a missing name's answer, as it would read for another name.
 * The podman client's log lines carry the time (`time="2026-12-04T20:38:27Z"`): two runs a second apart differ.
 */
function shape(r: DockerResult, from?: string, to?: string): { code: number; stdout: string; stderr: string } {
  const swap = (s: string) => (from === undefined || to === undefined ? s : s.replaceAll(from, to)).replace(/\btime="[^"]*"/g, 'time="…"');
  return { code: r.code, stdout: swap(r.stdout.trim()), stderr: swap(r.stderr.trim()) };
}

function lines(s: string): string[] {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** `generate kube` output without what changes from one call to the next. */
function kubeStable(s: string): string {
  return s
    .split('\n')
    .filter((l) => !/creationTimestamp:/.test(l))
    .join('\n');
}

/** The NAMES column of `system df -v`'s containers table. */
function dfContainerNames(s: string): string[] {
  const start = s.indexOf('Containers space usage:');
  const end = s.indexOf('Local Volumes space usage:');
  if (start < 0) return [];
  return lines(s.slice(start, end < 0 ? undefined : end))
    .slice(2)
    .map((l) => l.split(/\s+/).at(-1)!)
    .sort();
}

const now = () => Math.floor(Date.now() / 1000);

describePodman('Podman upstream (issue 12: libpod filtered on the real thing)', () => {
  let sieve: RunningSieve;
  let scrubbed: RunningSieve;
  let open: RunningSieve;
  const ids: Record<string, string> = {};
  let since = 0;
  const direct = () => ({ socketPath: podmanSock() });

  beforeAll(async () => {
    await removePodmanPods(PODS);
    await removePodmanContainers(CONTAINERS);
    since = now() - 1;
    ids[VIS_LABEL] = await runPodmanContainer({
      name: VIS_LABEL,
      labels: { homepage: 'yes' },
      env: { VIS_TOKEN: VIS_SECRET },
      cmd: ['sh', '-c', `echo ${VIS_LABEL} says hello; echo ${VIS_LABEL} on stderr >&2; exec sleep 3600`],
    });
    ids[VIS_NAME] = await runPodmanContainer({ name: VIS_NAME, cmd: ['sh', '-c', `echo ${VIS_NAME} up; exec sleep 3600`] });
    ids[HIDDEN] = await runPodmanContainer({
      name: HIDDEN,
      env: { SECRET_TOKEN: SECRET },
      // The secret is in its env, its create command and its logs.
      cmd: ['sh', '-c', 'echo "token is $SECRET_TOKEN"; exec sleep 3600'],
    });
    ids[STOPPED] = await runPodmanContainer({ name: STOPPED, labels: { homepage: 'yes' }, cmd: ['sh', '-c', 'echo stopped; exit 3'] });
    await podmanOk(['wait', STOPPED]);
    ids[POD] = await createPodmanPod({ name: POD });
    ids[POD_WEB] = await runPodmanContainer({ name: POD_WEB, pod: POD, labels: { homepage: 'yes' } });
    ids[HIDDEN_POD] = await createPodmanPod({ name: HIDDEN_POD, infra: false });
    ids[HIDDEN_POD_C] = await runPodmanContainer({ name: HIDDEN_POD_C, pod: HIDDEN_POD, env: { SECRET_TOKEN: SECRET }, extraArgs: ['--network', 'none'] });
    ids.infra = await podmanOk(['pod', 'inspect', '--format', '{{.InfraContainerID}}', POD]);
    sieve = await startSieve({ PROXY_URL: `unix://${podmanSock()}`, ...FILTERS });
    scrubbed = await startSieve({ PROXY_URL: `unix://${podmanSock()}`, ...FILTERS, SCRUB_ENVS: 'true' });
    open = await startSieve({ PROXY_URL: `unix://${podmanSock()}` });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await scrubbed?.app.close();
    await open?.app.close();
    await removePodmanPods(PODS);
    await removePodmanContainers(CONTAINERS);
  });

  /** Names that must never come out of a filtered docker-sieve unless the client wrote them. */
  const hiddenMarks = () => [SECRET, ids[HIDDEN]!, ids[HIDDEN]!.slice(0, 12), ids[HIDDEN_POD_C]!, ids[HIDDEN_POD_C]!.slice(0, 12), ids[HIDDEN_POD]!.slice(0, 12)];

  it('the fixture, straight to Podman: every container and both pods, the secret in pm-hidden', async () => {
    const ps = await straight(['ps', '-a', '--format', '{{.Names}} {{.State}}']);
    expect(ps.code, ps.stderr).toBe(0);
    const state = Object.fromEntries(lines(ps.stdout).map((l) => l.split(' ')));
    expect(state).toMatchObject({ [VIS_LABEL]: 'Up', [VIS_NAME]: 'Up', [HIDDEN]: 'Up', [STOPPED]: 'Exited', [POD_WEB]: 'Up', [HIDDEN_POD_C]: 'Up' });
    expect(Object.keys(state)).toContain(`${ids[POD]!.slice(0, 12)}-infra`);
    const env = await straight(['inspect', '--format', '{{.Config.Env}} {{.HostConfig.NetworkMode}}', HIDDEN]);
    expect(env.stdout).toContain(`SECRET_TOKEN=${SECRET}`);
    expect(env.stdout.trim()).toMatch(/ none$/);
    const pods = await straight(['pod', 'ps', '--format', '{{.Name}}']);
    expect(lines(pods.stdout).sort()).toEqual([HIDDEN_POD, POD]);
    // The libpod API hands the secret out: this is what docker-sieve must filter.
    const kube = await libpodRequest(direct(), 'GET', `/v4.3.1/libpod/generate/kube?names=${HIDDEN}`);
    expect(kube.status).toBe(200);
    expect(kube.body).toContain(SECRET);
    const logs = await straight(['logs', HIDDEN]);
    expect(logs.stdout).toContain(SECRET);
  });

  describe('lists: ps -a and pod ps', () => {
    it('ps -a --format {{.Names}}: the visible containers, in the order Podman gives them', async () => {
      const s = await straight(['ps', '-a', '--format', '{{.Names}}']);
      const t = await through(sieve.host, ['ps', '-a', '--format', '{{.Names}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stderr).toBe('');
      const want = lines(s.stdout).filter((n) => VISIBLE.has(n));
      expect(want.sort()).toEqual([...VISIBLE].sort());
      expect(lines(t.stdout).sort()).toEqual(want.sort());
      expect(lines(t.stdout)).toEqual(lines(s.stdout).filter((n) => VISIBLE.has(n)));
    });

    it('ps -a (the default table): no hidden name nor ID', async () => {
      const t = await through(sieve.host, ['ps', '-a', '--no-trunc']);
      expect(t.code, t.stderr).toBe(0);
      for (const mark of [HIDDEN, HIDDEN_POD_C, `${ids[POD]!.slice(0, 12)}-infra`, ...hiddenMarks()]) expect(t.stdout).not.toContain(mark);
      for (const name of VISIBLE) expect(t.stdout).toContain(name);
    });

    it('ps -a --pod: pm-pod-web with its pod, nothing of pm-hidden-pod', async () => {
      const t = await through(sieve.host, ['ps', '-a', '--pod', '--format', '{{.Names}} {{.PodName}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(lines(t.stdout)).toContain(`${POD_WEB} ${POD}`);
      expect(t.stdout).not.toContain(HIDDEN_POD);
    });

    it('pod ps: pm-pod (it has a visible container), not pm-hidden-pod', async () => {
      const s = await straight(['pod', 'ps', '--format', '{{.Name}}']);
      const t = await through(sieve.host, ['pod', 'ps', '--format', '{{.Name}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(lines(s.stdout).sort()).toEqual([HIDDEN_POD, POD]);
      expect(lines(t.stdout)).toEqual([POD]);
    });

    it('pod ps (the default table): no hidden pod ID nor name', async () => {
      const t = await through(sieve.host, ['pod', 'ps', '--no-trunc']);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toContain(POD);
      expect(t.stdout).not.toContain(HIDDEN_POD);
      expect(t.stdout).not.toContain(ids[HIDDEN_POD]!);
    });
  });

  // `before`/`since` name a container: Podman answers 500 for a missing one and a list for one it has, so a hidden
  // name must get the missing answer. `ctr-*` pod filters match pods by every member, hidden ones included.
  describe('list filters that name a container', () => {
    it.each(['before', 'since'])(`ps -a --filter %s=${HIDDEN}: like the same filter naming ${NOPE} straight`, async (key) => {
      const missing = await straight(['ps', '-a', '--filter', `${key}=${NOPE}`, '--format', '{{.Names}}']);
      const t = await through(sieve.host, ['ps', '-a', '--filter', `${key}=${HIDDEN}`, '--format', '{{.Names}}']);
      expect(missing.code).not.toBe(0);
      expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
    });

    it.each(['before', 'since'])(`ps -a --filter %s=${VIS_LABEL}: the visible part of the straight answer`, async (key) => {
      const s = await straight(['ps', '-a', '--filter', `${key}=${VIS_LABEL}`, '--format', '{{.Names}}']);
      const t = await through(sieve.host, ['ps', '-a', '--filter', `${key}=${VIS_LABEL}`, '--format', '{{.Names}}']);
      expect(s.code, s.stderr).toBe(0);
      expect(t.code, t.stderr).toBe(0);
      expect(lines(t.stdout)).toEqual(lines(s.stdout).filter((n) => VISIBLE.has(n)));
    });

    it.each(['before', 'since'])('raw libpod containers/json with %s naming pm-hidden: the status and body of a missing name', async (key) => {
      const path = (ref: string) => `/v4.3.1/libpod/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ [key]: [ref] }))}`;
      const missing = await libpodRequest(direct(), 'GET', path(NOPE));
      const hiddenStraight = await libpodRequest(direct(), 'GET', path(HIDDEN));
      const t = keepRaw(`libpod list ${key}=hidden`, await libpodRequest({ port: sieve.port }, 'GET', path(HIDDEN)));
      // The oracle this closes: straight, the hidden name gets a list where a missing one gets an error.
      expect(hiddenStraight.status).toBe(200);
      expect(missing.status).toBe(500);
      expect(t.status).toBe(missing.status);
      expect(t.body).toBe(missing.body.replaceAll(NOPE, HIDDEN));
    });

    it('the compatible list (docker CLI on Podman) with before=pm-hidden: like before=pm-nope straight', async () => {
      const missing = await docker(['ps', '-a', '--filter', `before=${NOPE}`], { host: `unix://${podmanSock()}` });
      const t = keep('docker ps before=hidden on podman', await docker(['ps', '-a', '--filter', `before=${HIDDEN}`], { host: sieve.host }));
      expect(missing.code).not.toBe(0);
      expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
    });

    it.each([
      ['ctr-names', HIDDEN_POD_C],
      ['ctr-ids', 'a'],
      ['ctr-status', 'running'],
      ['ctr-number', '1'],
    ])('pod ps --filter %s=…: refused with 403 naming docker-sieve, nothing listed', async (key, value) => {
      const s = await straight(['pod', 'ps', '--filter', `${key}=${value}`, '--format', '{{.Name}}']);
      const t = await through(sieve.host, ['pod', 'ps', '--filter', `${key}=${value}`, '--format', '{{.Name}}']);
      expect(s.code, s.stderr).toBe(0);
      expect(t.code).not.toBe(0);
      expect(t.stdout.trim()).toBe('');
      expect(t.stderr).toContain('docker-sieve');
      expect(t.stderr).toContain(key);
      const raw = keepRaw(`pods list ${key}`, await libpodRequest({ port: sieve.port }, 'GET', `/v4.3.1/libpod/pods/json?filters=${encodeURIComponent(JSON.stringify({ [key]: [value] }))}`));
      expect(raw.status).toBe(403);
    });

    it('pod ps --filter name=pm-: filtered by docker-sieve, not refused', async () => {
      const t = await through(sieve.host, ['pod', 'ps', '--filter', 'name=pm-', '--format', '{{.Name}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(lines(t.stdout)).toEqual([POD]);
    });
  });

  // Each command for a visible container: the same straight and through. For the hidden one: through docker-sieve
  // exactly what Podman says straight about pm-nope, with the name swapped.
  const perContainer: Array<[string, (c: string) => string[], (r: DockerResult) => unknown]> = [
    ['container inspect --format', (c) => ['container', 'inspect', '--format', '{{.Id}} {{.Name}} {{.State.Status}} {{.Config.Labels}}', c], (r) => r.stdout.trim()],
    ['inspect --format', (c) => ['inspect', '--format', '{{.Id}} {{.Name}} {{json .Config.Env}}', c], (r) => r.stdout.trim()],
    ['inspect --type container', (c) => ['inspect', '--type', 'container', '--format', '{{.Id}} {{.Name}}', c], (r) => r.stdout.trim()],
    ['logs', (c) => ['logs', c], (r) => [r.stdout, r.stderr]],
    ['logs --tail 1', (c) => ['logs', '--tail', '1', c], (r) => [r.stdout, r.stderr]],
    ['exec echo hi', (c) => ['exec', c, 'echo', 'hi'], (r) => [r.stdout, r.stderr]],
    ['top (pid, args)', (c) => ['top', c, 'pid', 'args'], (r) => r.stdout.trim()],
    ['stats --no-stream', (c) => ['stats', '--no-stream', '--format', '{{.ID}} {{.Name}}', c], (r) => r.stdout.trim()],
    ['generate kube', (c) => ['generate', 'kube', c], (r) => kubeStable(r.stdout)],
    ['generate systemd', (c) => ['generate', 'systemd', c], (r) => r.stdout.replace(/^# autogenerated by Podman.*$/m, '').replace(/^# .*\d{4}.*$/gm, '')],
    ['container exists', (c) => ['container', 'exists', c], (r) => r.stdout],
    ['port', (c) => ['port', c], (r) => r.stdout],
    ['container diff', (c) => ['container', 'diff', c], (r) => r.stdout],
  ];

  describe.each(perContainer)('%s', (_label, args, essence) => {
    it.each([VIS_LABEL, VIS_NAME])('visible %s: the same straight and through docker-sieve', async (name) => {
      const s = await straight(args(name));
      const t = await through(sieve.host, args(name));
      expect(s.code, `straight: ${s.stderr}`).toBe(0);
      expect(t.code, `through: ${t.stderr}`).toBe(0);
      expect(essence(t)).toEqual(essence(s));
      expect(t.stderr.trim()).toBe(s.stderr.trim());
    });

    it(`hidden ${HIDDEN}: through docker-sieve like ${NOPE} straight to Podman`, async () => {
      const missing = await straight(args(NOPE));
      const t = await through(sieve.host, args(HIDDEN));
      expect(t.timedOut).toBeFalsy();
      expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
      for (const mark of hiddenMarks()) expect(`${t.stdout}${t.stderr}`).not.toContain(mark);
    });

    it(`missing ${NOPE}: through docker-sieve like straight`, async () => {
      const s = await straight(args(NOPE));
      const t = await through(sieve.host, args(NOPE));
      expect(shape(t)).toEqual(shape(s));
    });
  });

  // Podman's client starts an exec with a plain POST and writes stdin on the same connection (hijack/plain-start.ts).
  describe('exec -i: stdin reaches the exec through docker-sieve', () => {
    const script = 'echo one\necho two >&2\nread line; echo "read $line"\nexit 7\n';
    const stdinLine = 'typed-line-5e2\n';
    it('exec -i pm-vis-label sh: the same stdout, stderr and exit code (7) straight and through', async () => {
      const s = await straight(['exec', '-i', VIS_LABEL, 'sh', '-c', `${script.replace(/\n/g, '; ').replace(/; $/, '')}`], stdinLine);
      const t = await through(sieve.host, ['exec', '-i', VIS_LABEL, 'sh', '-c', `${script.replace(/\n/g, '; ').replace(/; $/, '')}`], stdinLine);
      expect(s.code, s.stderr).toBe(7);
      expect(s.stdout).toBe('one\nread typed-line-5e2\n');
      expect(shape(t)).toEqual(shape(s));
    });

    it('exec -i pm-vis-name cat: a larger stdin comes back whole', async () => {
      const input = Array.from({ length: 2_000 }, (_v, i) => `line ${i} ${'x'.repeat(60)}`).join('\n') + '\n';
      const t = await through(sieve.host, ['exec', '-i', VIS_NAME, 'cat'], input);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toBe(input);
    });

    it(`exec -i ${HIDDEN}: like ${NOPE} straight, and the stdin goes nowhere`, async () => {
      const missing = await straight(['exec', '-i', NOPE, 'cat'], 'x\n');
      const t = await through(sieve.host, ['exec', '-i', HIDDEN, 'cat'], 'x\n');
      expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
      for (const mark of hiddenMarks()) expect(`${t.stdout}${t.stderr}`).not.toContain(mark);
    });
  });

  describe('inspect (full) and the pods', () => {
    it('inspect pm-vis-label: the same document straight and through (env included without SCRUB_ENVS)', async () => {
      const s = await straight(['inspect', VIS_LABEL]);
      const t = await through(sieve.host, ['inspect', VIS_LABEL]);
      expect(t.code, t.stderr).toBe(0);
      const pick = (out: string) => {
        const [c] = JSON.parse(out) as Array<{ Id: string; Name: string; Config: { Env: string[]; Labels: unknown; CreateCommand: string[] }; Pod: string }>;
        return { Id: c!.Id, Name: c!.Name, Env: c!.Config.Env, Labels: c!.Config.Labels, CreateCommand: c!.Config.CreateCommand, Pod: c!.Pod };
      };
      expect(pick(t.stdout)).toEqual(pick(s.stdout));
      expect(t.stdout).toContain(`VIS_TOKEN=${VIS_SECRET}`);
    });

    it('inspect pm-hidden (no --format): like inspect pm-nope straight', async () => {
      const missing = await straight(['inspect', NOPE]);
      const t = await through(sieve.host, ['inspect', HIDDEN]);
      expect(missing.code).not.toBe(0);
      expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
    });

    it('inspect pm-pod-web: its pod is pm-pod', async () => {
      const s = await straight(['inspect', '--format', '{{.Pod}}', POD_WEB]);
      const t = await through(sieve.host, ['inspect', '--format', '{{.Pod}}', POD_WEB]);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toBe(s.stdout);
      expect(t.stdout.trim()).toBe(ids[POD]);
    });

    it.each<[string, (p: string) => string[]]>([
      ['pod inspect', (p) => ['pod', 'inspect', '--format', '{{.Name}} {{.Id}}', p]],
      ['pod exists', (p) => ['pod', 'exists', p]],
      ['pod top', (p) => ['pod', 'top', p, 'pid', 'args']],
      ['generate kube (pod)', (p) => ['generate', 'kube', p]],
    ])('%s pm-hidden-pod: like pm-nope-pod straight; pm-pod works', async (_label, args) => {
      const missing = await straight(args(NOPE_POD));
      const t = await through(sieve.host, args(HIDDEN_POD));
      expect(shape(t)).toEqual(shape(missing, NOPE_POD, HIDDEN_POD));
      for (const mark of hiddenMarks()) expect(`${t.stdout}${t.stderr}`).not.toContain(mark);
      const visible = await through(sieve.host, args(POD));
      expect(visible.code, visible.stderr).toBe(0);
      expect(`${visible.stdout}${visible.stderr}`).not.toContain(SECRET);
    });

    it('generate kube pm-pod: the visible container, never the infra container nor a hidden one', async () => {
      const t = await through(sieve.host, ['generate', 'kube', POD]);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toContain(POD_WEB);
      expect(t.stdout).not.toContain(SECRET);
    });
  });

  describe('stats --no-stream, all running containers', () => {
    it('lists the visible running ones, the same as straight minus the hidden', async () => {
      const s = await straight(['stats', '--no-stream', '--format', '{{.Name}}']);
      const t = await through(sieve.host, ['stats', '--no-stream', '--format', '{{.Name}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(lines(s.stdout)).toEqual(expect.arrayContaining([HIDDEN, HIDDEN_POD_C]));
      // Podman's own answer for "all" is not steady for an exited container (its first sample may be skipped),
      // so the check is: every running visible one, nothing hidden, nothing but visible ones.
      expect(lines(t.stdout)).toEqual(expect.arrayContaining([POD_WEB, VIS_LABEL, VIS_NAME]));
      expect(lines(t.stdout).every((n) => VISIBLE.has(n))).toBe(true);
    });

    it('stats --no-stream pm-vis-label pm-hidden: like pm-vis-label pm-nope straight', async () => {
      const missing = await straight(['stats', '--no-stream', '--format', '{{.Name}}', VIS_LABEL, NOPE]);
      const t = await through(sieve.host, ['stats', '--no-stream', '--format', '{{.Name}}', VIS_LABEL, HIDDEN]);
      expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
    });

    it('pods/stats?stream=true (what `podman pod stats` asks): each line as Podman sends it, pm-pod-web only', async () => {
      const lines = await firstLines(sieve.port, '/v4.3.1/libpod/pods/stats?stream=true&delay=1', 2);
      expect(lines.status).toBe(200);
      expect(lines.lines).toHaveLength(2);
      for (const line of lines.lines) {
        const names = (JSON.parse(line) as Array<{ Name: string }>).map((r) => r.Name);
        expect(names).toEqual([POD_WEB]);
      }
      const all = lines.lines.join('\n');
      expect(all).not.toContain(HIDDEN_POD_C);
      expect(all).not.toContain(ids[HIDDEN_POD_C]!.slice(0, 12));
      expect(all).not.toContain(ids.infra!.slice(0, 12));
    });

    it('pod stats --no-stream: pm-pod only', async () => {
      const t = await through(sieve.host, ['pod', 'stats', '--no-stream', '--format', '{{.Pod}} {{.Name}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toContain(POD_WEB);
      expect(t.stdout).not.toContain(HIDDEN_POD_C);
      expect(t.stdout).not.toContain(ids[HIDDEN_POD]!.slice(0, 12));
    });
  });

  describe('SCRUB_ENVS=true', () => {
    it('generate kube pm-vis-label: refused with 403 and the reason', async () => {
      const t = await through(scrubbed.host, ['generate', 'kube', VIS_LABEL]);
      expect(t.code).not.toBe(0);
      expect(t.stderr).toContain('docker-sieve');
      expect(t.stdout).not.toContain(VIS_SECRET);
      const a = keepRaw('scrubbed generate kube', await libpodRequest({ port: scrubbed.port }, 'GET', `/v4.3.1/libpod/generate/kube?names=${VIS_LABEL}&service=false`));
      expect(a.status, a.body).toBe(403);
      const message = (JSON.parse(a.body) as { message?: string }).message ?? '';
      expect(message).toMatch(/^docker-sieve/);
      expect(message).toMatch(/SCRUB_ENVS|scrub|env/i);
      expect(t.stderr).toContain(message);
      expect(a.body).not.toContain(VIS_SECRET);
    });

    it('generate systemd --new pm-vis-label (its podman run line holds --env): refused with 403', async () => {
      const t = await through(scrubbed.host, ['generate', 'systemd', '--new', VIS_LABEL]);
      expect(t.code).not.toBe(0);
      expect(t.stderr).toContain('docker-sieve');
      expect(`${t.stdout}${t.stderr}`).not.toContain(VIS_SECRET);
    });

    it('inspect pm-vis-label: no Env, no CreateCommand with the secret', async () => {
      const s = await straight(['inspect', '--format', '{{json .Config.CreateCommand}}', VIS_LABEL]);
      expect(s.stdout).toContain(VIS_SECRET);
      const t = await through(scrubbed.host, ['inspect', VIS_LABEL]);
      expect(t.code, t.stderr).toBe(0);
      const [c] = JSON.parse(t.stdout) as Array<{ Name: string; Config: { Env?: string[] | null; CreateCommand?: string[] | null } }>;
      expect(c!.Name).toBe(VIS_LABEL);
      expect(c!.Config.Env ?? []).toEqual([]);
      expect(JSON.stringify(c!.Config.CreateCommand ?? [])).not.toContain(VIS_SECRET);
      expect(t.stdout).not.toContain(VIS_SECRET);
      const raw = keepRaw('scrubbed inspect', await libpodRequest({ port: scrubbed.port }, 'GET', `/v4.3.1/libpod/containers/${VIS_LABEL}/json?size=false`));
      expect(raw.status).toBe(200);
      expect(raw.body).not.toContain(VIS_SECRET);
    });

    it('container inspect pm-hidden: still like pm-nope', async () => {
      const missing = await straight(['container', 'inspect', NOPE]);
      const t = await through(scrubbed.host, ['container', 'inspect', HIDDEN]);
      expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
    });

    it('the docker CLI: docker inspect pm-vis-label has no env either', async () => {
      const t = keep('docker inspect scrubbed', await docker(['inspect', '--format', '{{json .Config.Env}}', VIS_LABEL], { host: scrubbed.host }));
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).not.toContain(VIS_SECRET);
    });
  });

  describe('events --since … --until … (a window ending in the future: the file backend returns nothing for a past until)', () => {
    let libpodEvents: DockerResult | undefined;
    it('the same container events as straight for the visible containers, none of the hidden ones', async () => {
      const until = now() + 3;
      const args = ['events', '--since', String(since), '--until', String(until), '--format', '{{.Type}} {{.Status}} {{.Name}} {{.ID}}'];
      const [s, t] = await Promise.all([straight(args), through(sieve.host, args)]);
      expect(s.code, s.stderr).toBe(0);
      expect(t.code, t.stderr).toBe(0);
      expect(t.timedOut).toBeFalsy();
      const containerLines = (out: string) => lines(out).filter((l) => l.startsWith('container '));
      const straightLines = containerLines(s.stdout);
      expect(straightLines.some((l) => l.includes(ids[HIDDEN]!))).toBe(true);
      expect(straightLines.some((l) => l === `container start ${VIS_LABEL} ${ids[VIS_LABEL]}`)).toBe(true);
      const visibleIds = new Set([...VISIBLE].map((n) => ids[n]!));
      const want = straightLines.filter((l) => visibleIds.has(l.split(' ')[3]!)).sort();
      expect(containerLines(t.stdout).sort()).toEqual(want);
      for (const mark of [` ${HIDDEN} `, HIDDEN_POD_C, ...hiddenMarks()]) expect(t.stdout).not.toContain(mark);
      libpodEvents = t;
    });

    it('nothing about pm-hidden-pod (a pod of hidden containers only)', async () => {
      expect(libpodEvents, 'the events test above ran').toBeDefined();
      const l = lines(libpodEvents!.stdout);
      expect(l.filter((x) => x.includes(HIDDEN_POD) || x.includes(ids[HIDDEN_POD]!))).toEqual([]);
    });

    it('events --filter container=pm-hidden: nothing', async () => {
      const args = ['events', '--since', String(since), '--until', String(now() + 2), '--filter', `container=${HIDDEN}`, '--format', '{{.Type}} {{.Status}} {{.Name}} {{.ID}}'];
      const t = await through(sieve.host, args);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout.trim()).toBe('');
    });
  });

  describe('system df', () => {
    it('system df -v: the visible containers only', async () => {
      const s = await straight(['system', 'df', '-v']);
      const t = await through(sieve.host, ['system', 'df', '-v']);
      expect(t.code, t.stderr).toBe(0);
      expect(dfContainerNames(s.stdout)).toEqual(expect.arrayContaining([HIDDEN, HIDDEN_POD_C]));
      expect(dfContainerNames(t.stdout)).toEqual(dfContainerNames(s.stdout).filter((n) => VISIBLE.has(n)));
      for (const mark of [HIDDEN, HIDDEN_POD_C, ids[HIDDEN]!.slice(0, 12)]) expect(t.stdout).not.toContain(mark);
    });

    it('system df: the Containers row counts the visible ones', async () => {
      const t = await through(sieve.host, ['system', 'df', '--format', '{{.Type}} {{.Total}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(lines(t.stdout)).toContain(`Containers ${VISIBLE.size}`);
    });
  });

  describe('create naming a hidden container is refused, and nothing is created', () => {
    const cases: Array<[string, string, string[]]> = [
      ['run --network container:pm-hidden', 'pm-leak-net', ['--network', `container:${HIDDEN}`]],
      ['run --pid container:pm-hidden', 'pm-leak-pid', ['--network', 'none', '--pid', `container:${HIDDEN}`]],
      ['run --ipc container:pm-hidden', 'pm-leak-ipc', ['--network', 'none', '--ipc', `container:${HIDDEN}`]],
      ['run --volumes-from pm-hidden', 'pm-leak-vf', ['--network', 'none', '--volumes-from', HIDDEN]],
      ['run --requires pm-hidden', 'pm-leak-req', ['--network', 'none', '--requires', HIDDEN]],
      ['run --pod pm-hidden-pod', 'pm-leak-pod', ['--pod', HIDDEN_POD]],
    ];

    it.each(cases)('%s: refused, nothing created, no trace of pm-hidden', async (_label, name, flags) => {
      const before = lines(await podmanOk(['ps', '-a', '-q', '--no-trunc']));
      const t = await through(sieve.host, ['run', '-d', '--name', name, ...flags, 'local/busybox:1', 'sleep', '3600']);
      expect(t.code).not.toBe(0);
      expect(t.timedOut).toBeFalsy();
      expect(t.stdout.trim()).toBe('');
      for (const mark of hiddenMarks()) expect(`${t.stdout}${t.stderr}`).not.toContain(mark);
      expect((await straight(['container', 'exists', name])).code).toBe(1);
      expect(lines(await podmanOk(['ps', '-a', '-q', '--no-trunc'])).sort()).toEqual(before.sort());
    });

    // The refusal must come from judging the ref (the hidden container reads as a missing one), not from a blanket
    // refusal of a route the podman client needs on the way (it pulls the image first: POST /libpod/images/pull).
    it.each(cases)('%s: like the same run naming pm-nope straight to Podman', async (_label, name, flags) => {
      const nope = (f: string[]) => f.map((x) => x.replace(HIDDEN_POD, NOPE_POD).replace(HIDDEN, NOPE));
      const missing = await straight(['run', '-d', '--name', name, ...nope(flags), 'local/busybox:1', 'sleep', '3600']);
      const t = await through(sieve.host, ['run', '-d', '--name', name, ...flags, 'local/busybox:1', 'sleep', '3600']);
      expect(missing.code).not.toBe(0);
      expect(t.stderr).not.toContain(LIBPOD_REFUSED);
      expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
    });

    it('run -d --network container:pm-vis-label (visible) works through docker-sieve', async () => {
      // Labelled like the visible ones: the new container must be visible too, or its own start is a 404.
      const t = await through(sieve.host, ['run', '-d', '--name', 'pm-side-net', '--label', 'homepage=yes', '--network', `container:${VIS_LABEL}`, 'local/busybox:1', 'sleep', '3600']);
      expect(t.code, t.stderr).toBe(0);
      expect(await podmanOk(['inspect', '--format', '{{.State.Running}}', 'pm-side-net'])).toBe('true');
      await removePodmanContainers(['pm-side-net']);
    });
  });

  describe('access on a docker-sieve process: one TCP listener per profile (the podman client sends no token)', () => {
    let dir: string;
    let proc: SieveProcess;
    const url: Record<'all' | 'read' | 'restarter', string> = { all: '', read: '', restarter: '' };
    const port: Record<keyof typeof url, number> = { all: 0, read: 0, restarter: 0 };
    const startedAt = (name: string) => podmanOk(['inspect', '--format', '{{.State.StartedAt}}', name]);

    beforeAll(async () => {
      for (const name of ['pm-tmp-all-rm', 'pm-tmp-all-rs', 'pm-tmp-read', 'pm-tmp-act']) {
        ids[name] = await runPodmanContainer({ name, labels: { homepage: 'yes' } });
      }
      dir = mkdtempSync(join(tmpdir(), 'pm-access-'));
      for (const p of Object.keys(port) as Array<keyof typeof port>) {
        port[p] = await freePort();
        url[p] = `tcp://127.0.0.1:${port[p]}`;
      }
      const profile = (access: string) => [`    labels: [homepage]`, `    names: [${VIS_NAME}]`, `    access: ${access}`];
      const configFile = join(dir, 'sieve.yaml');
      writeFileSync(
        configFile,
        [
          `upstream: unix://${podmanSock()}`,
          'listeners:',
          ...(Object.keys(port) as Array<keyof typeof port>).flatMap((p) => [`  - port: ${port[p]}`, '    address: 127.0.0.1', `    profile: ${p}`]),
          'profiles:',
          '  all:',
          ...profile('all'),
          '  read:',
          ...profile('read'),
          '  restarter:',
          ...profile('{ actions: [restart] }'),
          '',
        ].join('\n'),
      );
      proc = await startSieveProcess({ configFile });
    });

    afterAll(async () => {
      if (proc) throughAnswers.push({ what: 'the docker-sieve process log', text: proc.output() });
      await proc?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('ps -a: each listener sees the visible containers', async () => {
      for (const p of Object.keys(url) as Array<keyof typeof url>) {
        const t = await through(url[p], ['ps', '-a', '--format', '{{.Names}}']);
        expect(t.code, `${p}: ${t.stderr}`).toBe(0);
        expect(lines(t.stdout), p).toContain(VIS_LABEL);
        expect(lines(t.stdout), p).not.toContain(HIDDEN);
      }
    });

    describe('access: all', () => {
      it('rm -f a visible throwaway: removed', async () => {
        const t = await through(url.all, ['rm', '-f', '-t', '0', 'pm-tmp-all-rm']);
        expect(t.code, t.stderr).toBe(0);
        expect((await straight(['container', 'exists', 'pm-tmp-all-rm'])).code).toBe(1);
      });

      it('restart a visible throwaway: restarted', async () => {
        const before = await startedAt('pm-tmp-all-rs');
        const t = await through(url.all, ['restart', '-t', '0', 'pm-tmp-all-rs']);
        expect(t.code, t.stderr).toBe(0);
        expect(await startedAt('pm-tmp-all-rs')).not.toBe(before);
      });

      it.each<[string, string[]]>([
        ['rm', ['rm']],
        ['rm -f', ['rm', '-f', '-t', '0']],
        ['restart', ['restart', '-t', '0']],
      ])('%s pm-hidden: like pm-nope straight, and it keeps running', async (_label, args) => {
        const before = await startedAt(HIDDEN);
        const missing = await straight([...args, NOPE]);
        const t = await through(url.all, [...args, HIDDEN]);
        expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
        expect(await startedAt(HIDDEN)).toBe(before);
        expect(await podmanOk(['inspect', '--format', '{{.State.Running}}', HIDDEN])).toBe('true');
      });

      it('DELETE and restart of pm-hidden over raw HTTP: 404, Podman-shaped', async () => {
        for (const [method, path] of [
          ['DELETE', `/v4.3.1/libpod/containers/${HIDDEN}?force=true`],
          ['POST', `/v4.3.1/libpod/containers/${HIDDEN}/restart?timeout=0`],
        ] as const) {
          const a = keepRaw(`${method} ${path}`, await libpodRequest({ port: port.all }, method, path));
          expect(a.status, `${method} ${path}: ${a.body}`).toBe(404);
          expect(JSON.parse(a.body)).toMatchObject({ cause: 'no such container', response: 404 });
        }
        expect(await podmanOk(['inspect', '--format', '{{.State.Running}}', HIDDEN])).toBe('true');
      });
    });

    describe('access: read', () => {
      it('rm -f a visible container: 403, and it is still there', async () => {
        const t = await through(url.read, ['rm', '-f', '-t', '0', 'pm-tmp-read']);
        expect(t.code).not.toBe(0);
        expect(t.stderr).toContain('docker-sieve: profile "read" is read-only');
        expect(await podmanOk(['inspect', '--format', '{{.State.Running}}', 'pm-tmp-read'])).toBe('true');
        const a = keepRaw('read DELETE', await libpodRequest({ port: port.read }, 'DELETE', '/v4.3.1/libpod/containers/pm-tmp-read?force=true'));
        expect(a.status, a.body).toBe(403);
        expect((await straight(['container', 'exists', 'pm-tmp-read'])).code).toBe(0);
      });

      it('restart a visible container: 403, not restarted', async () => {
        const before = await startedAt('pm-tmp-read');
        const t = await through(url.read, ['restart', '-t', '0', 'pm-tmp-read']);
        expect(t.code).not.toBe(0);
        expect(t.stderr).toContain('docker-sieve: profile "read" is read-only');
        const a = keepRaw('read restart', await libpodRequest({ port: port.read }, 'POST', '/v4.3.1/libpod/containers/pm-tmp-read/restart?timeout=0'));
        expect(a.status, a.body).toBe(403);
        expect(await startedAt('pm-tmp-read')).toBe(before);
      });

      it('rm pm-hidden: the same answer as rm pm-nope on this listener', async () => {
        const missing = await through(url.read, ['rm', '-f', '-t', '0', NOPE]);
        const t = await through(url.read, ['rm', '-f', '-t', '0', HIDDEN]);
        expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
        expect(await podmanOk(['inspect', '--format', '{{.State.Running}}', HIDDEN])).toBe('true');
      });

      it('reads work: inspect and logs of a visible container', async () => {
        const t = await through(url.read, ['logs', VIS_LABEL]);
        expect(t.code, t.stderr).toBe(0);
        expect(t.stdout).toContain(`${VIS_LABEL} says hello`);
      });
    });

    describe('access: actions [restart]', () => {
      it('restart a visible container: restarted', async () => {
        const before = await startedAt('pm-tmp-act');
        const t = await through(url.restarter, ['restart', '-t', '0', 'pm-tmp-act']);
        expect(t.code, t.stderr).toBe(0);
        expect(await startedAt('pm-tmp-act')).not.toBe(before);
      });

      it('rm -f a visible container: 403, and it is still there', async () => {
        const t = await through(url.restarter, ['rm', '-f', '-t', '0', 'pm-tmp-act']);
        expect(t.code).not.toBe(0);
        expect(t.stderr).toContain('docker-sieve: profile "restarter" may not remove containers');
        const a = keepRaw('restarter DELETE', await libpodRequest({ port: port.restarter }, 'DELETE', '/v4.3.1/libpod/containers/pm-tmp-act?force=true'));
        expect(a.status, a.body).toBe(403);
        expect(await podmanOk(['inspect', '--format', '{{.State.Running}}', 'pm-tmp-act'])).toBe('true');
      });

      it('restart pm-hidden: like pm-nope straight, and it is not restarted', async () => {
        const before = await startedAt(HIDDEN);
        const missing = await straight(['restart', '-t', '0', NOPE]);
        const t = await through(url.restarter, ['restart', '-t', '0', HIDDEN]);
        expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
        expect(await startedAt(HIDDEN)).toBe(before);
      });

      it('exec is not granted: 403', async () => {
        const t = await through(url.restarter, ['exec', VIS_LABEL, 'echo', 'hi']);
        expect(t.code).not.toBe(0);
        expect(t.stderr).toContain('docker-sieve: profile "restarter" may not exec in containers');
      });
    });
  });

  describe("the docker CLI through docker-sieve, on Podman's Docker-compatible API", () => {
    const dockerStraight = (args: string[]) => docker(args, { host: `unix://${podmanSock()}` });
    const dockerThrough = async (args: string[], host = sieve.host) => keep(`docker ${args.join(' ')}`, await docker(args, { host }));

    it('docker ps -a: the visible containers', async () => {
      const s = await dockerStraight(['ps', '-a', '--format', '{{.Names}}']);
      const t = await dockerThrough(['ps', '-a', '--format', '{{.Names}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(lines(s.stdout)).toEqual(expect.arrayContaining([HIDDEN]));
      expect(lines(t.stdout).sort()).toEqual(lines(s.stdout).filter(visibleName).sort());
    });

    // On the Docker-compatible API docker-sieve answers a hidden (and a missing) container with dockerd's words
    // (`No such container: NAME`), where Podman says `no container with name or ID "NAME" found`: the docker CLI
    // cases are those that pass against dockerd, and through docker-sieve hidden and missing read the same.
    const noSuch = /No such (container|object): pm-(hidden|nope)|no container with name or ID "pm-(hidden|nope)" found/;

    it('docker inspect: the visible ones work, pm-hidden like pm-nope', async () => {
      for (const name of [VIS_LABEL, VIS_NAME]) {
        const s = await dockerStraight(['inspect', '--format', '{{.Id}} {{.Name}}', name]);
        const t = await dockerThrough(['inspect', '--format', '{{.Id}} {{.Name}}', name]);
        expect(t.code, t.stderr).toBe(0);
        expect(t.stdout).toBe(s.stdout);
      }
      for (const args of [['inspect'], ['container', 'inspect']]) {
        const missing = await dockerThrough([...args, NOPE]);
        const t = await dockerThrough([...args, HIDDEN]);
        expect(t.code).not.toBe(0);
        expect(t.stderr).toMatch(noSuch);
        expect(shape(t)).toEqual(shape(missing, NOPE, HIDDEN));
      }
    });

    it('docker logs: the visible one as straight, pm-hidden like pm-nope', async () => {
      const s = await dockerStraight(['logs', VIS_LABEL]);
      const t = await dockerThrough(['logs', VIS_LABEL]);
      expect(t.code, t.stderr).toBe(0);
      expect([t.stdout, t.stderr]).toEqual([s.stdout, s.stderr]);
      const missing = await dockerThrough(['logs', NOPE]);
      const h = await dockerThrough(['logs', HIDDEN]);
      expect(h.code).not.toBe(0);
      expect(h.stderr).toMatch(noSuch);
      expect(shape(h)).toEqual(shape(missing, NOPE, HIDDEN));
    });

    it('docker exec: echo hi in the visible one, pm-hidden like pm-nope', async () => {
      const t = await dockerThrough(['exec', VIS_LABEL, 'echo', 'hi']);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toBe('hi\n');
      const missing = await dockerThrough(['exec', NOPE, 'echo', 'hi']);
      const h = await dockerThrough(['exec', HIDDEN, 'echo', 'hi']);
      expect(h.code).not.toBe(0);
      expect(h.stderr).toMatch(noSuch);
      expect(shape(h)).toEqual(shape(missing, NOPE, HIDDEN));
    });

    let dockerEvents: DockerResult | undefined;
    const dockerEventsThrough = async () => {
      dockerEvents ??= await dockerThrough(['events', '--since', String(since), '--until', String(now() + 3), '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.ID}}']);
      return dockerEvents;
    };

    it('docker events --since --until: the visible containers, none of the hidden containers', async () => {
      const s = await dockerStraight(['events', '--since', String(since), '--until', String(now() + 3), '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.ID}}']);
      const t = await dockerEventsThrough();
      expect(t.code, t.stderr).toBe(0);
      expect(s.stdout).toContain(`container start ${HIDDEN} ${ids[HIDDEN]}`);
      expect(t.stdout).toContain(`container start ${VIS_LABEL} ${ids[VIS_LABEL]}`);
      expect(t.stdout).toContain(`container start ${POD_WEB} ${ids[POD_WEB]}`);
      for (const mark of [` ${HIDDEN} `, HIDDEN_POD_C, ids[HIDDEN]!, ids[HIDDEN_POD_C]!, SECRET]) expect(t.stdout).not.toContain(mark);
    });

    it('docker events --since --until: nothing about pm-hidden-pod (a pod of hidden containers only)', async () => {
      const t = await dockerEventsThrough();
      expect(t.code, t.stderr).toBe(0);
      expect(lines(t.stdout).filter((l) => l.includes(HIDDEN_POD) || l.includes(ids[HIDDEN_POD]!))).toEqual([]);
    });
  });

  describe('what stays refused while filtering, and what passes', () => {
    it.each<[string, string, unknown?]>([
      ['POST', '/v4.3.1/libpod/play/kube', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: pm-leak-play\n'],
      ['POST', '/v4.3.1/libpod/pods/create', { name: 'pm-leak-pod-create', infra: false }],
      ['POST', '/v4.3.1/libpod/pods/prune'],
    ])('%s %s: 403 with the reason', async (method, path, body) => {
      const a = keepRaw(`${method} ${path}`, await libpodRequest({ port: sieve.port }, method, path, body));
      expect(a.status, a.body).toBe(403);
      expect(String(a.headers['content-type'])).toMatch(/^application\/json/);
      expect((JSON.parse(a.body) as { message: string }).message).toMatch(/^docker-sieve/);
      expect((await straight(['pod', 'exists', 'pm-leak-pod-create'])).code).toBe(1);
    });

    it.each(['/libpod/_ping', '/v4.0.0/libpod/_ping', '/v4.3.1/libpod/_ping'])('GET %s: 200 OK', async (path) => {
      const a = keepRaw(path, await libpodRequest({ port: sieve.port }, 'GET', path));
      expect(a.status, a.body).toBe(200);
      expect(a.body).toBe('OK');
      expect(a.headers['libpod-api-version']).toMatch(/^4\./);
    });

    it('podman version and podman info through docker-sieve: as straight', async () => {
      const s = await straight(['version', '--format', '{{.Server.Version}}']);
      const t = await through(sieve.host, ['version', '--format', '{{.Server.Version}}']);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toBe(s.stdout);
      const i = await through(sieve.host, ['info', '--format', '{{.Version.Version}}']);
      expect(i.code, i.stderr).toBe(0);
    });

    it('with no filters, libpod passes unchanged: ps -a lists pm-hidden, generate kube has its env', async () => {
      const ps = await podman(['ps', '-a', '--format', '{{.Names}}'], { url: open.host, timeoutMs: 60_000 });
      expect(ps.code, ps.stderr).toBe(0);
      expect(lines(ps.stdout)).toEqual(expect.arrayContaining([VIS_LABEL, HIDDEN]));
      const kube = await libpodRequest({ port: open.port }, 'GET', `/v4.3.1/libpod/generate/kube?names=${HIDDEN}`);
      expect(kube.status).toBe(200);
      // (The open sieve's answers are not kept: with nothing to hide, it shows the secret.)
      expect(kube.body).toContain(SECRET);
    });
  });

  // Podman's error answers name other containers by their full ID (gates/error-answer.ts): a name's holder on
  // create, the dependents on a forced removal. The client learns that, not which container it is.
  describe("errors that name a hidden container: Podman's answer, the hidden ID written as the mark", () => {
    const BASE = 'pm-tmp-err-base';
    const DEPENDENT = 'pm-err-dependent';
    const MARK = '(a container hidden by docker-sieve)';
    const errIds: Record<string, string> = {};
    beforeAll(async () => {
      errIds[BASE] = await runPodmanContainer({ name: BASE, labels: { homepage: 'yes' } });
      // Hidden (no label), and sharing the visible base's pid namespace: the base cannot be removed before it.
      errIds[DEPENDENT] = await runPodmanContainer({ name: DEPENDENT, extraArgs: ['--pid', `container:${BASE}`] });
    });
    afterAll(async () => {
      await removePodmanContainers([DEPENDENT]);
      await removePodmanContainers([BASE, 'pm-tmp-err-new']);
    });

    it.each<[string, string[], () => string]>([
      ['podman create --name pm-hidden', ['create', '--name', HIDDEN, '--network', 'none', 'local/busybox:1', 'true'], () => ids[HIDDEN]!],
      ['podman rm -f pm-tmp-err-base (a hidden container depends on it)', ['rm', '-f', BASE], () => errIds[DEPENDENT]!],
    ])('%s', async (_label, args, hiddenId) => {
      const s = await straight(args);
      const t = await through(sieve.host, args);
      expect(s.code).not.toBe(0);
      expect(s.stderr).toContain(hiddenId());
      expect(shape(t)).toEqual(shape({ ...s, stderr: s.stderr.replaceAll(hiddenId(), MARK) }));
      expect(`${t.stdout}${t.stderr}`).not.toContain(hiddenId());
      expect((await straight(['container', 'exists', BASE])).code).toBe(0);
    });

    it('the docker CLI on the compatible API: docker create --name pm-hidden', async () => {
      const args = ['create', '--name', HIDDEN, '--network', 'none', 'local/busybox:1', 'true'];
      const s = await docker(args, { host: `unix://${podmanSock()}` });
      const t = keep('docker create --name pm-hidden on podman', await docker(args, { host: sieve.host }));
      expect(s.code).not.toBe(0);
      expect(s.stderr).toContain(ids[HIDDEN]!);
      expect(shape(t)).toEqual(shape({ ...s, stderr: s.stderr.replaceAll(ids[HIDDEN]!, MARK) }));
    });

    it('a visible holder, and a free name: as straight', async () => {
      const taken = ['create', '--name', VIS_LABEL, '--network', 'none', 'local/busybox:1', 'true'];
      const s = await straight(taken);
      const t = await through(sieve.host, taken);
      expect(s.code).not.toBe(0);
      expect(shape(t)).toEqual(shape(s));
      const made = await through(sieve.host, ['create', '--name', 'pm-tmp-err-new', '--label', 'homepage=yes', '--network', 'none', 'local/busybox:1', 'true']);
      expect(made.code, made.stderr).toBe(0);
    });
  });

  it('the secret never came out of a filtering docker-sieve', () => {
    expect(throughAnswers.length).toBeGreaterThan(50);
    const leaks = throughAnswers.filter((a) => a.text.includes(SECRET)).map((a) => a.what);
    expect(leaks).toEqual([]);
  });
});
