// Issue 10, point 1: Podman's native (libpod) API is a bypass; docker-sieve must fail closed.
//
// A real rootful Podman (the globalSetup's private `podman system service`) is the upstream, reached by
// docker-sieve straight on its unix socket. While container filters are active every `/libpod/...` path,
// with or without a version prefix, is refused with a 403 that says why, except `_ping`, `version` and
// `info`, which say nothing about a container and which the podman client needs to print that message.
// Podman's Docker-compatible API on the same socket is filtered as usual. With no filters, docker-sieve
// has nothing to hide and libpod passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import {
  docker,
  podman,
  podmanDir,
  podmanSock,
  removePodmanContainers,
  requirePodman,
  runPodmanContainer,
  startSieve,
  type RunningSieve,
} from './harness/index.js';

const describePodman = requirePodman();

const VISIBLE = 'pm-vis-label';
const HIDDEN = 'pm-hidden';
const SECRET = 'hunter2-pm-secret';
const REFUSED = "does not filter Podman's native API";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw HTTP/1.1 request on a fresh connection (no agent, no keep-alive), to 127.0.0.1 or a unix socket. */
function send(to: { port: number } | { socketPath: string }, method: string, path: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpRequest(
      {
        ...('port' in to ? { host: '127.0.0.1', port: to.port } : { socketPath: to.socketPath }),
        method,
        path,
        agent: false,
        headers: {
          Host: 'docker',
          Connection: 'close',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
        },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Everything a client got back, headers included, for the "never leaks" checks. */
function everything(a: Answer): string {
  return `${JSON.stringify(a.headers)}\n${a.body}`;
}

/** The podman remote client's environment: CONTAINERS_CONF of the private service, HOME under its dir. */
function podmanVia(url: string, args: string[]) {
  const dir = podmanDir(podmanSock());
  return podman(args, { url, dir, env: { HOME: join(dir, 'client-home') }, timeoutMs: 60_000 });
}

describePodman('Podman upstream (issue 10.1: libpod is refused while filtering)', () => {
  let sieve: RunningSieve;
  let direct: { socketPath: string };

  beforeAll(async () => {
    direct = { socketPath: podmanSock() };
    await removePodmanContainers([VISIBLE, HIDDEN]);
    await runPodmanContainer({ name: VISIBLE, labels: { homepage: 'yes' } });
    await runPodmanContainer({ name: HIDDEN, env: { SECRET_TOKEN: SECRET } });
    sieve = await startSieve({ PROXY_URL: `unix://${podmanSock()}`, CONTAINER_LABELS: 'homepage' });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await removePodmanContainers([VISIBLE, HIDDEN]);
  });

  it('the fixture: straight to Podman, both containers are listed (and the secret is in pm-hidden)', async () => {
    const r = await podman(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.find((l) => l.startsWith(`${VISIBLE} `))).toMatch(/ Up /);
    expect(lines.find((l) => l.startsWith(`${HIDDEN} `))).toMatch(/ Up /);
    const env = await podman(['inspect', '--format', '{{.Config.Env}} {{.HostConfig.NetworkMode}}', HIDDEN]);
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout).toContain(`SECRET_TOKEN=${SECRET}`);
    expect(env.stdout.trim()).toMatch(/ none$/);
    // ...and the libpod API really hands it out: this is the bypass docker-sieve must close.
    const kube = await send(direct, 'GET', `/v4.3.1/libpod/generate/kube?names=${HIDDEN}`);
    expect(kube.status).toBe(200);
    expect(kube.body).toContain(SECRET);
  });

  describe('while filtering, every /libpod/ path is refused with 403', () => {
    const refused: Array<[string, string, unknown?]> = [
      ['GET', '/v4.0.0/libpod/containers/json'],
      ['GET', '/v4.0.0/libpod/containers/json?all=true'],
      ['GET', '/libpod/containers/json'],
      ['GET', '/v4.3.1/libpod/containers/json?all=true&filters=%7B%22name%22%3A%5B%22pm-hidden%22%5D%7D'],
      ['GET', `/libpod/containers/${HIDDEN}/json`],
      ['GET', `/v4.0.0/libpod/containers/${HIDDEN}/json`],
      ['GET', `/v4.3.1/libpod/generate/${HIDDEN}/kube`],
      ['GET', `/v4.3.1/libpod/generate/kube?names=${HIDDEN}`],
      ['GET', `/v4.0.0/libpod/containers/${HIDDEN}/logs?stdout=true`],
      ['GET', '/v4.0.0/libpod/events?stream=false'],
      ['GET', '/v4.0.0/libpod/pods/json'],
      ['GET', '/v4.0.0/libpod/system/df'],
      ['HEAD', `/v4.0.0/libpod/containers/${HIDDEN}/exists`],
      // Harmless even if it were forwarded: an exec session is created but never started.
      ['POST', `/v4.0.0/libpod/containers/${HIDDEN}/exec`, { Cmd: ['env'], AttachStdout: true }],
      // Harmless even if it were forwarded: without force Podman refuses to remove a running container.
      ['DELETE', `/v4.0.0/libpod/containers/${HIDDEN}`],
      ['DELETE', '/libpod/containers/pm-no-such-container'],
    ];

    it.each(refused)('%s %s', async (method, path, body) => {
      const a = await send({ port: sieve.port }, method, path, body);
      expect(a.status, a.body).toBe(403);
      expect(everything(a)).not.toContain(SECRET);
      expect(everything(a)).not.toContain(HIDDEN);
      if (method === 'HEAD') return;
      expect(String(a.headers['content-type'])).toMatch(/^application\/json/);
      const json = JSON.parse(a.body) as { message?: unknown };
      expect(typeof json.message).toBe('string');
      expect(json.message).toContain(REFUSED);
      expect(json.message).toMatch(/Docker-compatible API/);
    });

    it('spelled differently, a libpod path never reaches Podman either', async () => {
      const variants = [
        '/v4.0.0/%6cibpod/containers/json',
        '/v4.0.0/%6Cibpod/containers/json',
        '/v4.0.0//libpod/containers/json',
        '/v4.0.0/./libpod/containers/json',
        '/v4.0.0/images/../libpod/containers/json',
        '/v4.0.0/libpod//containers/json',
        `/v4.0.0/libpod/containers/${HIDDEN}/json/`,
        '/libpod/containers/json?all=true#x',
        '/v4.0.0-dev/libpod/containers/json',
        '/v1.41/libpod/containers/json',
      ];
      for (const path of variants) {
        const a = await send({ port: sieve.port }, 'GET', path);
        expect(a.status, `${path}: ${a.body}`).toBeGreaterThanOrEqual(400);
        expect(everything(a), path).not.toContain(SECRET);
        expect(everything(a), path).not.toContain(HIDDEN);
      }
    });

    it('the refusals leave the fixture alone', async () => {
      const r = await podman(['ps', '--format', '{{.Names}}']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n')).toEqual(expect.arrayContaining([VISIBLE, HIDDEN]));
    });
  });

  describe('libpod _ping, version and info pass', () => {
    it.each(['/libpod/_ping', '/v4.0.0/libpod/_ping', '/v4.3.1/libpod/_ping'])('GET %s: 200 OK', async (path) => {
      const a = await send({ port: sieve.port }, 'GET', path);
      expect(a.status, a.body).toBe(200);
      expect(a.body).toBe('OK');
      expect(a.headers['libpod-api-version']).toMatch(/^4\./);
    });

    it.each(['/v4.0.0/libpod/version', '/v4.3.1/libpod/info'])('GET %s: 200, the daemon answer', async (path) => {
      const a = await send({ port: sieve.port }, 'GET', path);
      const d = await send(direct, 'GET', path);
      expect(d.status).toBe(200);
      expect(a.status, a.body).toBe(200);
      const got = JSON.parse(a.body) as { version?: { Version?: string }; Version?: string };
      const want = JSON.parse(d.body) as typeof got;
      if (path.endsWith('/version')) expect(got).toEqual(want);
      else expect(got.version?.Version).toBe(want.version?.Version);
      expect(a.body).not.toContain(SECRET);
    });

    // Podman 4.3.1 routes libpod version and info only under a version prefix (unversioned it says 404 itself;
    // only /libpod/_ping is routed without one). docker-sieve passes them all the same: the answer is the daemon's.
    it.each(['/libpod/version', '/libpod/info'])('GET %s: not refused, whatever the daemon says', async (path) => {
      const a = await send({ port: sieve.port }, 'GET', path);
      const d = await send(direct, 'GET', path);
      expect(a.status, a.body).not.toBe(403);
      expect(a.status).toBe(d.status);
      if (d.status !== 200) expect(a.body).toBe(d.body);
      expect(a.body).not.toContain(REFUSED);
    });
  });

  describe('the podman remote client through docker-sieve', () => {
    const cases: Array<[string, string[]]> = [
      ['ps -a', ['ps', '-a']],
      ['inspect pm-hidden', ['inspect', HIDDEN]],
      ['generate kube pm-hidden', ['generate', 'kube', HIDDEN]],
    ];

    it.each(cases)('podman %s fails with the 403 message', async (_label, args) => {
      const r = await podmanVia(sieve.host, args);
      const out = `${r.stdout}\n${r.stderr}`;
      expect(r.code, out).not.toBe(0);
      expect(r.timedOut).toBeFalsy();
      expect(r.stderr).toContain('docker-sieve');
      expect(r.stderr).toContain(REFUSED);
      expect(r.stdout.trim()).toBe('');
      expect(out).not.toContain(SECRET);
      if (args[0] === 'ps') expect(out).not.toContain(HIDDEN);
    });
  });

  describe("the docker CLI through docker-sieve, on Podman's Docker-compatible API", () => {
    it('docker ps -a lists pm-vis-label and not pm-hidden', async () => {
      const r = await docker(['ps', '-a', '--format', '{{.Names}}'], { host: sieve.host });
      expect(r.code, r.stderr).toBe(0);
      const names = r.stdout.trim().split('\n');
      expect(names).toContain(VISIBLE);
      expect(names).not.toContain(HIDDEN);
      expect(r.stdout).not.toContain(HIDDEN);
    });

    it('docker container inspect pm-hidden: No such container', async () => {
      const r = await docker(['container', 'inspect', HIDDEN], { host: sieve.host });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`No such container: ${HIDDEN}`);
      expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
    });

    it('docker inspect pm-hidden: not found either (the 20.10 CLI says "No such object" without --type)', async () => {
      const r = await docker(['inspect', HIDDEN], { host: sieve.host });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`No such (container|object): ${HIDDEN}`));
      expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
    });

    it('docker inspect pm-vis-label works', async () => {
      const r = await docker(['inspect', '--format', '{{.Name}} {{index .Config.Labels "homepage"}}', VISIBLE], { host: sieve.host });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`/${VISIBLE} yes`);
    });
  });

  describe('with no filters, libpod passes (nothing to hide means transparent)', () => {
    let open: RunningSieve;

    beforeAll(async () => {
      open = await startSieve({ PROXY_URL: `unix://${podmanSock()}` });
    });

    afterAll(async () => {
      await open?.app.close();
    });

    it('GET /v4.0.0/libpod/containers/json?all=true: 200 with both containers', async () => {
      const a = await send({ port: open.port }, 'GET', '/v4.0.0/libpod/containers/json?all=true');
      expect(a.status, a.body).toBe(200);
      const names = (JSON.parse(a.body) as Array<{ Names: string[] }>).flatMap((c) => c.Names);
      expect(names).toEqual(expect.arrayContaining([VISIBLE, HIDDEN]));
    });

    it('GET /v4.0.0/libpod/containers/json: 200, the same list Podman gives', async () => {
      const a = await send({ port: open.port }, 'GET', '/v4.0.0/libpod/containers/json');
      const d = await send(direct, 'GET', '/v4.0.0/libpod/containers/json');
      expect(a.status, a.body).toBe(200);
      const ids = (s: string) => (JSON.parse(s) as Array<{ Id: string }>).map((c) => c.Id).sort();
      expect(ids(a.body)).toEqual(ids(d.body));
      expect(ids(a.body)).toHaveLength(2);
    });
  });
});
