/**
 * A private, throw-away rootful Podman (Debian 12's podman 4.3.1) for the
 * integration suite: `podman system service` on a unix socket, next to the
 * private dockerd.
 *
 * Everything lives under one short mkdtemp directory (/tmp/ds-podman-XXXXXX;
 * .ci/run looks for leftover processes whose command line contains /tmp/ds-):
 *
 *   $DIR/podman.sock       the service's API socket (libpod + Docker-compatible API)
 *   $DIR/containers.conf   CONTAINERS_CONF: runc, cgroupfs, file events, no default ulimits
 *   $DIR/root              --root (graph root; vfs storage driver)
 *   $DIR/run               --runroot
 *   $DIR/tmp               --tmpdir (libpod's state: alive lock, exits, events.log) and TMPDIR
 *   $DIR/net               --network-config-dir (CNI configs; never /etc/cni/net.d)
 *   $DIR/xdg, $DIR/home    XDG_RUNTIME_DIR and HOME of every podman process the harness starts
 *   $DIR/podman.log        the service's stdout+stderr
 *
 * runc keeps its state in its default root, /run/runc/<container id>, removed
 * with each container. (`--runtime-flag root=$DIR/runc` would move it, but
 * podman 4.3.1 does not pass runtime flags on to the `container cleanup` that
 * conmon runs when a container exits, so runc state would end up split over
 * two roots.)
 *
 * Every podman command the harness runs besides the service itself is a remote
 * client (`podman --url unix://$DIR/podman.sock …`, which refuses --root and
 * friends) with the same minimal environment: PATH, HOME, CONTAINERS_CONF,
 * XDG_RUNTIME_DIR, TMPDIR, and nothing else (no DOCKER_CONFIG, no
 * CONTAINER_HOST, no proxies). Containers always run with `--network none`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import {
  BUSYBOX_IMAGE,
  BUSYBOX_SOURCE,
  DAEMON_PATH,
  busyboxRootfsTar,
  findBinary,
  isAlive,
  isExecutable,
  pingSocket,
  runCommand,
  sleep,
  tail,
  unmountAllUnder,
  waitForExit,
  waitForPidGone,
  type DockerResult,
} from './dockerd.js';
import { atProcessExit } from './exit-hooks.js';

/** The containers.conf every podman process of the harness reads (via CONTAINERS_CONF). */
export const PODMAN_CONTAINERS_CONF = `[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`;

// ---------------------------------------------------------------------------
// Preconditions

/** Can this machine run a rootful Podman service (podman, conmon, runc, root)? */
export function canRunPodman(): { ok: boolean; reason?: string } {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`platform is ${process.platform}, need linux`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    problems.push(`not running as root (uid ${process.getuid?.() ?? 'unknown'}), rootful podman needs root`);
  }
  for (const bin of ['podman', 'conmon', 'runc', 'tar']) {
    if (!findBinary(bin)) problems.push(`\`${bin}\` not found (apt-get install podman runc)`);
  }
  if (!isExecutable(BUSYBOX_SOURCE)) problems.push(`${BUSYBOX_SOURCE} missing (install busybox-static)`);
  return problems.length === 0 ? { ok: true } : { ok: false, reason: problems.join('; ') };
}

// ---------------------------------------------------------------------------
// podman CLI (remote client)

let defaultSock: string | undefined;

/** Set the service socket `podman()` talks to (and whose directory holds containers.conf). */
export function setDefaultPodmanSock(sock: string | undefined): void {
  defaultSock = sock;
}

/** The private Podman service's socket path, if known. */
export function getDefaultPodmanSock(): string | undefined {
  return defaultSock;
}

/** The private directory of a Podman service, from its socket path. */
export function podmanDir(sock: string): string {
  return dirname(sock);
}

/**
 * The minimal environment for any podman process of the harness whose private
 * directory is `dir`: the service, and remote clients pointed at it or at
 * docker-sieve. Nothing is inherited from process.env.
 */
export function podmanEnv(dir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: DAEMON_PATH,
    HOME: join(dir, 'home'),
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    XDG_RUNTIME_DIR: join(dir, 'xdg'),
    TMPDIR: join(dir, 'tmp'),
    LANG: 'C.UTF-8',
  };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export interface PodmanOptions {
  /**
   * The service the client talks to: `unix:///…` or `tcp://127.0.0.1:PORT`
   * (docker-sieve). Default: the private Podman service.
   */
  url?: string;
  /** Private directory for the environment (containers.conf, HOME). Default: the private service's. */
  dir?: string;
  /** Extra environment (applied after the minimal one). */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Default 60 s. */
  timeoutMs?: number;
}

function defaultPodmanSock(): string {
  if (!defaultSock) throw new Error('podman(): no private Podman service known (is the integration globalSetup running with podman?)');
  return defaultSock;
}

/** Run the podman remote client: `podman --url <url> …args`. Never throws on a non-zero exit. */
export function podman(args: string[], opts: PodmanOptions = {}): Promise<DockerResult> {
  const url = opts.url ?? `unix://${defaultPodmanSock()}`;
  const dir = opts.dir ?? podmanDir(defaultPodmanSock());
  return runCommand(findBinary('podman') ?? 'podman', ['--url', url, ...args], {
    env: podmanEnv(dir, opts.env),
    input: opts.input,
    timeoutMs: opts.timeoutMs,
    label: 'podman',
  });
}

/** Like podman(), but throws (with stderr) unless the exit code is 0. Returns trimmed stdout. */
export async function podmanOk(args: string[], opts: PodmanOptions = {}): Promise<string> {
  const r = await podman(args, opts);
  if (r.code !== 0) {
    throw new Error(`podman ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.trim()}\n${r.stdout.trim()}`);
  }
  return r.stdout.trim();
}

export interface RunPodmanContainerOptions {
  name: string;
  labels?: Record<string, string>;
  env?: Record<string, string>;
  /** Default `['sleep', '3600']`. */
  cmd?: string[];
  image?: string;
  extraArgs?: string[];
  /**
   * Run it in this pod (`--pod`), which owns the network namespace: no `--network none` then (the pods of
   * createPodmanPod() have `--network none` themselves).
   */
  pod?: string;
  /** Default: the private Podman service. */
  url?: string;
}

/** `podman run -d --network none …` on the private service; returns the full container ID. Throws on failure. */
export async function runPodmanContainer(opts: RunPodmanContainerOptions): Promise<string> {
  const args = ['run', '-d', ...(opts.pod === undefined ? ['--network', 'none'] : ['--pod', opts.pod]), '--name', opts.name];
  for (const [k, v] of Object.entries(opts.labels ?? {})) args.push('--label', `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('--env', `${k}=${v}`);
  args.push(...(opts.extraArgs ?? []), opts.image ?? BUSYBOX_IMAGE, ...(opts.cmd ?? ['sleep', '3600']));
  const popts: PodmanOptions = opts.url ? { url: opts.url } : {};
  const out = await podmanOk(args, popts);
  const id = out.split('\n').pop()?.trim() ?? '';
  if (/^[0-9a-f]{64}$/.test(id)) return id;
  return podmanOk(['inspect', '--type', 'container', '--format', '{{.Id}}', opts.name], popts);
}

/** `podman rm -f -t 0` the given containers (ignores "no such container"). */
export async function removePodmanContainers(refs: string[], opts: PodmanOptions = {}): Promise<void> {
  if (refs.length === 0) return;
  await podman(['rm', '-f', '-t', '0', '--ignore', ...refs], opts);
}

export interface CreatePodmanPodOptions {
  name: string;
  labels?: Record<string, string>;
  /**
   * An infra container (default true): Debian 12's podman has no catatonit for its default pause image, so the
   * infra container runs `sleep 3600` from local/busybox:1 (as scripts/record-libpod-fixtures.mjs does). Its name
   * is `<pod ID, 12 characters>-infra`, it carries no labels.
   */
  infra?: boolean;
  /** Default: the private Podman service. */
  url?: string;
}

/** `podman pod create --network none …` on the private service; returns the full pod ID. Throws on failure. */
export async function createPodmanPod(opts: CreatePodmanPodOptions): Promise<string> {
  const args = ['pod', 'create', '--name', opts.name];
  if (opts.infra === false) args.push('--infra=false');
  else args.push('--network', 'none', '--infra-image', BUSYBOX_IMAGE, '--infra-command', 'sleep 3600');
  for (const [k, v] of Object.entries(opts.labels ?? {})) args.push('--label', `${k}=${v}`);
  const popts: PodmanOptions = opts.url ? { url: opts.url } : {};
  const out = await podmanOk(args, popts);
  const id = out.split('\n').pop()?.trim() ?? '';
  if (/^[0-9a-f]{64}$/.test(id)) return id;
  return podmanOk(['pod', 'inspect', '--format', '{{.Id}}', opts.name], popts);
}

/**
 * `podman pod rm -f -t 0 --ignore` each of the given pods, with their containers. One at a time: the 4.3.1 remote
 * client, given a missing pod among several, exits 0 without removing the others.
 */
export async function removePodmanPods(refs: string[], opts: PodmanOptions = {}): Promise<void> {
  for (const ref of refs) await podman(['pod', 'rm', '-f', '-t', '0', '--ignore', ref], opts);
}

export interface LibpodAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP/1.1 request on a fresh connection (no agent, no keep-alive) to a unix socket (the Podman service:
 * straight, without docker-sieve) or to 127.0.0.1:port. `body` is sent as JSON unless it is a string already.
 */
export function libpodRequest(
  to: { socketPath: string } | { port: number },
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<LibpodAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = httpRequest(
      {
        ...('port' in to ? { host: '127.0.0.1', port: to.port } : { socketPath: to.socketPath }),
        method,
        path,
        agent: false,
        headers: {
          Host: 'd',
          Connection: 'close',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
        },
        timeout: timeoutMs,
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

/** Import `local/busybox:1` (the same rootfs as the dockerd image) if the service does not have it. */
export async function ensurePodmanBusyboxImage(url: string, dir: string): Promise<void> {
  const have = await podman(['image', 'exists', BUSYBOX_IMAGE], { url, dir });
  if (have.code === 0) return;
  await podmanOk(['import', '-', BUSYBOX_IMAGE], { url, dir, input: busyboxRootfsTar(), timeoutMs: 120_000 });
}

// ---------------------------------------------------------------------------
// The service

export interface Podman {
  dir: string;
  /** Path of the API unix socket. */
  sock: string;
  /** `unix://<sock>`, for `podman --url` and PROXY_URL. */
  url: string;
  pid: number;
  logFile: string;
  /** Last lines of the service's log. */
  logTail(lines?: number): string;
  /** Remove all containers, stop the service (SIGTERM, SIGKILL after 10 s), unmount and delete the dir. */
  stop(): Promise<void>;
}

export interface StartPodmanOptions {
  /** Parent directory for the mkdtemp dir. Default /tmp (keep it short: unix socket paths). */
  parent?: string;
  /** Default 30 s. */
  readyTimeoutMs?: number;
}

/** Global podman flags of the service: all state under `dir`. */
function serviceFlags(dir: string): string[] {
  return [
    '--root', join(dir, 'root'),
    '--runroot', join(dir, 'run'),
    '--storage-driver', 'vfs',
    '--tmpdir', join(dir, 'tmp'),
    '--network-config-dir', join(dir, 'net'),
    '--events-backend', 'file',
  ];
}

const RUNC_ROOT = '/run/runc';

/**
 * Force-delete (kill and remove) the runc containers of this service, and only those: the IDs are the
 * container directories in its own graph root. Stops what a dead conmon left behind. Sync.
 */
function runcDeleteAll(dir: string): void {
  let ids: string[] = [];
  try {
    ids = readdirSync(join(dir, 'root', 'vfs-containers')).filter((id) => /^[0-9a-f]{64}$/.test(id));
  } catch {
    return;
  }
  const runc = findBinary('runc') ?? 'runc';
  for (const id of ids) {
    if (!existsSync(join(RUNC_ROOT, id))) continue;
    spawnSync(runc, ['--root', RUNC_ROOT, 'delete', '--force', id], { stdio: 'ignore', timeout: 10_000 });
  }
}

/** PIDs (other than ours) whose command line mentions `dir/` — conmon and friends the service left behind. */
function pidsUnder(dir: string): number[] {
  const found: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(`${dir}/`)) found.push(pid);
    } catch {
      /* gone */
    }
  }
  return found;
}

const running = new Set<{ pid: number; dir: string }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the test process dies without teardown: no containers, no service left behind.
  atProcessExit(() => {
    for (const p of running) {
      runcDeleteAll(p.dir);
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  });
}

/** Start a private rootful `podman system service` and wait until `GET /_ping` answers. */
export async function startPodman(opts: StartPodmanOptions = {}): Promise<Podman> {
  const check = canRunPodman();
  if (!check.ok) throw new Error(`cannot run podman: ${check.reason}`);
  const dir = mkdtempSync(join(opts.parent ?? '/tmp', 'ds-podman-'));
  const sock = join(dir, 'podman.sock');
  const url = `unix://${sock}`;
  const logFile = join(dir, 'podman.log');
  writeFileSync(join(dir, 'containers.conf'), PODMAN_CONTAINERS_CONF);
  for (const sub of ['home', 'tmp', 'net']) mkdirSync(join(dir, sub));
  mkdirSync(join(dir, 'xdg'), { mode: 0o700 });

  const logFd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    findBinary('podman')!,
    [...serviceFlags(dir), 'system', 'service', '--time=0', url],
    { env: podmanEnv(dir), stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error('podman system service did not start (no pid)');
  }
  const entry = { pid, dir };
  running.add(entry);
  installExitHook();
  child.on('error', () => {});

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      if (child.exitCode === null && child.signalCode === null) {
        await podman(['rm', '-a', '-f', '-t', '0'], { url, dir, timeoutMs: 60_000 });
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 10_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      // Whatever the API could not remove: this service's runc containers, then conmons and other stragglers.
      runcDeleteAll(dir);
      for (const p of pidsUnder(dir)) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          continue;
        }
        if (!(await waitForPidGone(p, 5_000)) && isAlive(p)) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    } finally {
      running.delete(entry);
      unmountAllUnder(dir);
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // leftover busy mounts: leave the directory, never fail teardown because of it
      }
    }
  };

  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) {
      const log = tail(logFile);
      await stop();
      throw new Error(`podman system service exited during startup (code ${child.exitCode}, signal ${child.signalCode}). Log tail:\n${log}`);
    }
    if (existsSync(sock) && (await pingSocket(sock))) break;
    if (Date.now() > deadline) {
      const log = tail(logFile);
      await stop();
      throw new Error(`podman system service did not answer GET /_ping on ${sock} within ${timeoutMs} ms. Log tail:\n${log}`);
    }
    await sleep(50);
  }

  return { dir, sock, url, pid, logFile, logTail: (lines?: number) => tail(logFile, lines), stop };
}

/** The podman version string of the binary in PATH (`podman --version`), or undefined. */
export function podmanVersion(): string | undefined {
  const bin = findBinary('podman');
  if (!bin) return undefined;
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { PATH: DAEMON_PATH }, timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
