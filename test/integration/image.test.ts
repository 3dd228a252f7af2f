// The container image, built from the Dockerfile and run the way the README tells users to run it.
//
// No registry serves node:* here, so the base is a stand-in: a Debian 12 rootfs from debootstrap plus this
// machine's Node and npm (scripts/node-base-rootfs.sh, cached per day under /var/cache/docker-sieve-ci),
// imported into the private dockerd and passed as NODE_IMAGE. The build stage's `npm ci` needs the npm
// registry, so the build runs with `--network host` (the private dockerd has no bridge; the host network
// is always there). The classic builder is used (DOCKER_BUILDKIT=0): Debian's dockerd 20.10 and the docker
// CLI here have no buildx, and the Dockerfile is written for both builders.
//
// The image then runs with `--network none`, `--read-only`, `--cap-drop ALL`, no-new-privileges, as its
// own non-root user, against the real daemon through the mounted unix socket, reached through
// `--group-add <the socket's gid>`. With no network there is no port to publish: the real docker CLI is
// run inside the container's network namespace (`nsenter --target <pid> --net docker -H
// tcp://127.0.0.1:2375 ps`), so it talks to docker-sieve exactly as a client on the same host would,
// and nothing in the image is needed for the check.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  docker,
  dockerCliEnv,
  dockerOk,
  dockerSock,
  findBinary,
  integrationEnabled,
  removeContainers,
  runContainer,
  type DockerResult,
} from './harness/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKG = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const BASE_IMAGE = 'local/node-base:ci';
const IMAGE = 'local/docker-sieve:ci';
const SIEVE = 'img-sieve';
const NAMES = ['img-web-a', 'img-web-b', 'img-media', 'img-db', SIEVE];
const FILTERS = { CONTAINER_NAMES: 'img-web', CONTAINER_LABELS: 'homepage.group=Media' };
const TOOLS = ['debootstrap', 'flock', 'chroot', 'nsenter', 'bash'];

const missing = TOOLS.filter((tool) => !findBinary(tool));
const inCi = process.env.CI === 'true';

function banner(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width + 2);
  return ['', bar, ...lines.map((l) => `!  ${l.padEnd(width - 2)}!`), bar, ''].join('\n');
}

let describeImage: typeof describe = describe;
if (!integrationEnabled()) {
  describeImage = describe.skip as typeof describe; // globalSetup already printed why
} else if (missing.length > 0 && !inCi) {
  process.stderr.write(
    banner([
      'CONTAINER IMAGE TEST SKIPPED (test/integration/image.test.ts)',
      '',
      `missing: ${missing.join(', ')}`,
      '',
      'It builds a Node base image with debootstrap (apt-get install debootstrap).',
      'With CI=true this is an error, not a skip.',
    ]),
  );
  describeImage = describe.skip as typeof describe;
}

const log = (text: string) => process.stderr.write(`[image] ${text}\n`);

/** Runs a command; stderr is passed through as it comes when `stream` is set. Never throws. */
function run(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; stream?: boolean }): Promise<DockerResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (opts.stream) process.stderr.write(b);
    });
    child.on('error', (e) => err.push(Buffer.from(`[spawn error] ${String(e)}\n`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `\n[${command}: timed out after ${opts.timeoutMs} ms]` : '');
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr, signal, timedOut });
    });
  });
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describeImage('container image: build from the Dockerfile, run read-only and non-root against the real daemon', () => {
  let sieveId = '';
  let sievePid = 0;
  let imageBytes = 0;
  let baseBytes = 0;

  /** The real docker CLI, run in the docker-sieve container's network namespace, against 127.0.0.1:2375. */
  function dockerThroughSieve(args: string[]): Promise<DockerResult> {
    return run(findBinary('nsenter')!, ['--target', String(sievePid), '--net', '--', findBinary('docker')!, ...args], {
      env: dockerCliEnv('tcp://127.0.0.1:2375'),
      timeoutMs: 60_000,
    });
  }

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`CI=true but the image test cannot run: missing ${missing.join(', ')} (apt-get install debootstrap)`);
    const started = Date.now();
    await removeContainers(NAMES);

    let step = Date.now();
    const base = await run('bash', [`${ROOT}/scripts/node-base-rootfs.sh`], { timeoutMs: 30 * 60_000, stream: true });
    const tar = base.stdout.trim().split('\n').pop() ?? '';
    if (base.code !== 0 || !tar.endsWith('.tar')) throw new Error(`scripts/node-base-rootfs.sh failed (exit ${base.code}):\n${base.stderr}`);
    log(`base rootfs ready in ${seconds(step)}: ${tar}`);

    step = Date.now();
    await dockerOk(['import', tar, BASE_IMAGE], { timeoutMs: 5 * 60_000 });
    log(`imported as ${BASE_IMAGE} in ${seconds(step)}`);

    step = Date.now();
    const revision = await run('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { timeoutMs: 10_000 });
    const build = await docker(
      [
        'build',
        '--network', 'host',
        '--build-arg', `NODE_IMAGE=${BASE_IMAGE}`,
        '--build-arg', `VERSION=${PKG.version}`,
        '--build-arg', `REVISION=${revision.code === 0 ? revision.stdout.trim() : ''}`,
        '--build-arg', `CREATED=${new Date().toISOString()}`,
        '--tag', IMAGE,
        ROOT,
      ],
      { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 30 * 60_000 },
    );
    if (build.code !== 0) throw new Error(`docker build failed (exit ${build.code}):\n${build.stderr}\n${build.stdout.slice(-8000)}`);
    log(`built ${IMAGE} in ${seconds(step)}`);
    imageBytes = Number(await dockerOk(['image', 'inspect', '--format', '{{.Size}}', IMAGE]));
    baseBytes = Number(await dockerOk(['image', 'inspect', '--format', '{{.Size}}', BASE_IMAGE]));
    log(`image ${(imageBytes / 1e6).toFixed(1)} MB, of which docker-sieve's layers ${((imageBytes - baseBytes) / 1e6).toFixed(1)} MB`);

    // Two visible by name (one exited), one visible by label, one hidden with a secret in its env and logs.
    await runContainer({ name: 'img-web-a', cmd: ['sh', '-c', 'echo web-a log line; exec sleep 3600'] });
    await runContainer({ name: 'img-web-b', cmd: ['true'], detach: false });
    await runContainer({ name: 'img-media', labels: { 'homepage.group': 'Media' } });
    await runContainer({ name: 'img-db', env: { DB_PASSWORD: 'hunter2' }, cmd: ['sh', '-c', 'echo db secret log line; exec sleep 3600'] });

    const sock = dockerSock();
    sieveId = await runContainer({
      name: SIEVE,
      image: IMAGE,
      cmd: [],
      env: { PROXY_URL: 'unix:///var/run/docker.sock', ...FILTERS },
      extraArgs: [
        '--read-only',
        '--cap-drop', 'ALL',
        '--security-opt', 'no-new-privileges:true',
        // The daemon's socket is root:<group> 0660; the image's user reaches it through that group only.
        '--group-add', String(statSync(sock).gid),
        '--volume', `${sock}:/var/run/docker.sock`,
        // The image's HEALTHCHECK command, probed every second instead of every 30 s.
        '--health-interval', '1s',
        '--health-start-period', '0s',
      ],
    });
    sievePid = Number(await dockerOk(['inspect', '--format', '{{.State.Pid}}', SIEVE]));
    expect(sievePid).toBeGreaterThan(1);

    step = Date.now();
    let health = '';
    while (Date.now() - step < 60_000) {
      health = await dockerOk(['inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', SIEVE]);
      if (health === 'healthy' || health === 'unhealthy') break;
      await sleep(500);
    }
    if (health !== 'healthy') {
      const logs = await docker(['logs', SIEVE]);
      const state = await docker(['inspect', '--format', '{{json .State}}', SIEVE]);
      throw new Error(`${SIEVE} did not become healthy (${health}):\n${state.stdout}\n${logs.stdout}${logs.stderr}`);
    }
    log(`${SIEVE} healthy ${seconds(step)} after start; whole setup ${seconds(started)}`);
  }, 60 * 60_000);

  afterAll(async () => {
    await removeContainers(NAMES);
    await docker(['rmi', '--force', IMAGE, BASE_IMAGE], { timeoutMs: 120_000 });
    // Intermediate images of the classic builder: `docker image prune` removes the dangling ones.
    await docker(['image', 'prune', '--force'], { timeoutMs: 120_000 });
  }, 5 * 60_000);

  it('docker ps through the containerized docker-sieve shows only the visible running containers', async () => {
    const result = await dockerThroughSieve(['ps', '--format', '{{.Names}}']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n').filter(Boolean).sort()).toEqual(['img-media', 'img-web-a']);
    // The daemon itself lists all of them, docker-sieve's own container included.
    const direct = await dockerOk(['ps', '--format', '{{.Names}}']);
    expect(direct.split('\n').filter((n) => n.startsWith('img-')).sort()).toEqual(['img-db', 'img-media', SIEVE, 'img-web-a']);
  });

  it('docker ps -a adds the visible exited container and nothing hidden', async () => {
    const result = await dockerThroughSieve(['ps', '-a', '--format', '{{.Names}}']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n').filter((n) => n.startsWith('img-')).sort()).toEqual(['img-media', 'img-web-a', 'img-web-b']);
  });

  it('a hidden container cannot be inspected or read through it; a visible one can', async () => {
    const hidden = await dockerThroughSieve(['inspect', '--type', 'container', 'img-db']);
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toMatch(/No such (object|container)/);
    const logs = await dockerThroughSieve(['logs', 'img-db']);
    expect(logs.code).not.toBe(0);
    expect(hidden.stdout + hidden.stderr + logs.stdout + logs.stderr).not.toMatch(/hunter2|db secret log line/);
    const visible = await dockerThroughSieve(['logs', 'img-web-a']);
    expect(visible.code, visible.stderr).toBe(0);
    expect(visible.stdout).toContain('web-a log line');
  });

  it('runs as uid/gid 1000 with no capabilities, no-new-privileges and a read-only root filesystem', async () => {
    const status = readFileSync(`/proc/${sievePid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/);
    expect(field('Uid')).toEqual(['1000', '1000', '1000', '1000']);
    expect(field('Gid')).toEqual(['1000', '1000', '1000', '1000']);
    expect(field('CapEff')).toEqual(['0000000000000000']);
    expect(field('CapPrm')).toEqual(['0000000000000000']);
    expect(field('NoNewPrivs')).toEqual(['1']);
    const host = JSON.parse(await dockerOk(['inspect', '--format', '{{json .HostConfig}}', SIEVE])) as {
      ReadonlyRootfs: boolean;
      NetworkMode: string;
    };
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.NetworkMode).toBe('none');
    // And it means it: nothing under / can be written, not even by the image's own user in its own /app.
    const write = await docker(['exec', SIEVE, 'node', '-e', "require('fs').writeFileSync('/app/x', '')"]);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/EROFS|read-only file system/);
  });

  it('the image: numeric non-root user, port 2375, HEALTHCHECK docker-sieve healthcheck, OCI labels, small', async () => {
    const config = JSON.parse(await dockerOk(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])) as {
      User: string;
      ExposedPorts: Record<string, unknown>;
      Healthcheck: { Test: string[] };
      Entrypoint: string[];
      Cmd: string[] | null;
      Labels: Record<string, string>;
    };
    expect(config.User).toBe('1000:1000');
    expect(Object.keys(config.ExposedPorts)).toEqual(['2375/tcp']);
    expect(config.Healthcheck.Test).toEqual(['CMD', 'docker-sieve', 'healthcheck']);
    expect(config.Entrypoint).toEqual(['docker-sieve']);
    expect(config.Cmd ?? []).toEqual([]);
    expect(config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'docker-sieve',
      'org.opencontainers.image.licenses': 'MIT',
      'org.opencontainers.image.version': PKG.version,
      'org.opencontainers.image.base.name': BASE_IMAGE,
    });
    expect(config.Labels['org.opencontainers.image.created']).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The Dockerfile's own default for the version label follows package.json.
    const dockerfile = readFileSync(`${ROOT}/Dockerfile`, 'utf8');
    expect(/^ARG VERSION=(.*)$/m.exec(dockerfile)?.[1]).toBe(PKG.version);
    // What docker-sieve adds to its base: compiled code and production dependencies only (README: "Container image").
    expect(imageBytes - baseBytes).toBeLessThan(25 * 1024 * 1024);
  });

  it('docker-sieve healthcheck passes on its port and fails where nothing listens', async () => {
    const state = JSON.parse(await dockerOk(['inspect', '--format', '{{json .State.Health}}', SIEVE])) as {
      Status: string;
      Log: Array<{ ExitCode: number; Output: string }>;
    };
    expect(state.Status).toBe('healthy');
    expect(state.Log.length).toBeGreaterThan(0);
    expect(state.Log.every((entry) => entry.ExitCode === 0)).toBe(true);
    const ok = await docker(['exec', SIEVE, 'docker-sieve', 'healthcheck']);
    expect(ok.code, ok.stderr).toBe(0);
    const wrongPort = await docker(['exec', '--env', 'PORT=2399', SIEVE, 'docker-sieve', 'healthcheck']);
    expect(wrongPort.code).toBe(1);
  });

  it('docker run IMAGE --version runs the CLI (the entrypoint is docker-sieve)', async () => {
    const out = await dockerOk(['run', '--rm', '--network', 'none', '--read-only', '--cap-drop', 'ALL', IMAGE, '--version']);
    expect(out.trim()).toBe(PKG.version);
  });

  it('docker stop ends it cleanly: SIGTERM reaches node as PID 1, exit status 0', async () => {
    const started = Date.now();
    await dockerOk(['stop', '--time', '20', SIEVE], { timeoutMs: 60_000 });
    const exit = await dockerOk(['inspect', '--format', '{{.State.ExitCode}}', SIEVE]);
    expect(exit.trim()).toBe('0');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
