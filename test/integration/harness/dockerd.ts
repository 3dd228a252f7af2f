/**
 * A private, throw-away dockerd for the integration suite.
 *
 * Everything lives under one short mkdtemp directory (unix socket paths are
 * limited to ~108 bytes, and containerd puts its own sockets below exec-root):
 *
 *   $DIR/docker.sock   the daemon's API socket
 *   $DIR/data          --data-root
 *   $DIR/exec          --exec-root (managed containerd lives below it)
 *   $DIR/dockerd.log   dockerd's stdout+stderr
 *
 * The daemon runs with --bridge=none --iptables=false --ip-masq=false and every
 * container the tests start uses `--network none`: nothing here ever talks to
 * anything but unix sockets and 127.0.0.1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, accessSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { atProcessExit } from './exit-hooks.js';

export const BUSYBOX_IMAGE = 'local/busybox:1';
const BUSYBOX_APPLETS = ['sh', 'sleep', 'echo', 'cat', 'ls', 'tail', 'head', 'true', 'env'] as const;
export const BUSYBOX_SOURCE = '/bin/busybox';
const SEARCH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
/** PATH given to dockerd (it spawns containerd, runc, shims, docker-init from PATH). */
export const DAEMON_PATH = SEARCH_DIRS.join(':');

// ---------------------------------------------------------------------------
// Preconditions

/** Absolute path of an executable, looked up in $PATH and the usual sbin/bin dirs. */
export function findBinary(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Can this machine run the real chain (private dockerd + HAProxy + docker CLI)? */
export function canRunDockerd(): { ok: boolean; reason?: string } {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`platform is ${process.platform}, need linux`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    problems.push(`not running as root (uid ${process.getuid?.() ?? 'unknown'}), dockerd needs root`);
  }
  for (const bin of ['dockerd', 'containerd', 'runc', 'docker', 'haproxy', 'tar']) {
    if (!findBinary(bin)) problems.push(`\`${bin}\` not found (PATH or ${SEARCH_DIRS.join(', ')})`);
  }
  if (!isExecutable(BUSYBOX_SOURCE)) problems.push(`${BUSYBOX_SOURCE} missing (install busybox-static)`);
  return problems.length === 0 ? { ok: true } : { ok: false, reason: problems.join('; ') };
}

// ---------------------------------------------------------------------------
// docker CLI

export interface DockerResult {
  /** Exit code; -1 when the process was killed (timeout) or could not be started. */
  code: number;
  stdout: string;
  stderr: string;
  signal?: NodeJS.Signals | null;
  timedOut?: boolean;
}

export interface DockerOptions {
  /** DOCKER_HOST value, e.g. `tcp://127.0.0.1:1234` or `unix:///…`. Default: the private daemon. */
  host?: string;
  /** Extra environment (applied after the sanitized base environment). */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Default 60 s. */
  timeoutMs?: number;
}

let defaultSock: string | undefined;
let cliConfigDir: string | undefined;

/** Set the socket `docker()` and `runContainer()` talk to when no host is given. */
export function setDefaultDockerSock(sock: string | undefined): void {
  defaultSock = sock;
}

/** The private daemon's socket path, if known (setDefaultDockerSock or $SIEVE_TEST_DOCKER_SOCK). */
export function getDefaultDockerSock(): string | undefined {
  return defaultSock ?? process.env.SIEVE_TEST_DOCKER_SOCK;
}

function defaultHost(): string {
  const sock = getDefaultDockerSock();
  if (!sock) {
    throw new Error('docker(): no host given and no private dockerd known (is the integration globalSetup running?)');
  }
  return `unix://${sock}`;
}

/**
 * An empty DOCKER_CONFIG so ~/.docker (contexts, plugins, credential helpers,
 * proxies) never interferes. It lives inside the private daemon's directory
 * when one is known (so it goes away with the daemon, even if a vitest worker
 * is killed without running exit hooks), else in a temp dir removed on exit.
 */
function emptyCliConfigDir(): string {
  const sock = getDefaultDockerSock();
  if (sock && existsSync(dirname(sock))) {
    const dir = join(dirname(sock), 'cli-config');
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  if (!cliConfigDir || !existsSync(cliConfigDir)) {
    cliConfigDir = mkdtempSync(join(tmpdir(), 'ds-cli-'));
    const dir = cliConfigDir;
    atProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  }
  return cliConfigDir;
}

/** Environment for the docker CLI: no contexts, no TLS, no proxies, empty config. */
export function dockerCliEnv(host: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(DOCKER_|BUILDKIT_|COMPOSE_)/.test(key) || /^(https?|all|no)_proxy$/i.test(key)) delete env[key];
  }
  env.DOCKER_HOST = host;
  env.DOCKER_CONFIG = emptyCliConfigDir();
  env.NO_PROXY = '*';
  env.no_proxy = '*';
  env.DOCKER_CLI_HINTS = 'false';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Run the docker CLI (from PATH). Never throws on a non-zero exit. */
export function docker(args: string[], opts: DockerOptions = {}): Promise<DockerResult> {
  const host = opts.host ?? defaultHost();
  return runCommand(findBinary('docker') ?? 'docker', args, {
    env: dockerCliEnv(host, opts.env),
    input: opts.input,
    timeoutMs: opts.timeoutMs,
    label: 'docker',
  });
}

export interface RunCommandOptions {
  env: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Default 60 s; the process is SIGKILLed after that. */
  timeoutMs?: number;
  /** Name used in the timeout note appended to stderr. */
  label?: string;
}

/** Spawn a program, collect stdout/stderr, resolve on close. Never throws on a non-zero exit. */
export function runCommand(file: string, args: string[], opts: RunCommandOptions): Promise<DockerResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: -1, stdout: '', stderr: String(err) });
      return;
    }
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => errOut.push(b));
    child.on('error', (err) => errOut.push(Buffer.from(`\n[spawn error] ${String(err)}`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const note = timedOut ? `\n[${opts.label ?? file} ${args.join(' ')}: timed out after ${timeoutMs} ms]` : '';
      const stderr = Buffer.concat(errOut).toString('utf8') + note;
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr, signal, timedOut });
    });
    child.stdin?.on('error', () => {});
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Like docker(), but throws (with stderr) unless the exit code is 0. Returns trimmed stdout. */
export async function dockerOk(args: string[], opts: DockerOptions = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) {
    throw new Error(`docker ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.trim()}\n${r.stdout.trim()}`);
  }
  return r.stdout.trim();
}

export interface RunContainerOptions {
  name: string;
  labels?: Record<string, string>;
  env?: Record<string, string>;
  /** Default `['sleep', '3600']`. */
  cmd?: string[];
  /** Default true (`docker run -d`). With false the command runs to completion first. */
  detach?: boolean;
  image?: string;
  /** More `docker run` flags, e.g. `['--link', 'web-a:al']` or `['--restart', 'no']`. */
  extraArgs?: string[];
  host?: string;
}

/**
 * `docker run --network none …`; returns the container's full ID. Throws on failure.
 *
 * Legacy links with `--network none`: the daemon accepts them, the docker CLI
 * 23+ passes them, but the 20.10 CLI (Debian's docker.io) refuses them
 * client-side ("links are only supported for user-defined networks"). When that
 * happens and the only extra args are `--link` pairs, the container is created
 * and started through the Engine API on the unix socket instead.
 */
export async function runContainer(opts: RunContainerOptions): Promise<string> {
  const detach = opts.detach ?? true;
  const image = opts.image ?? BUSYBOX_IMAGE;
  const cmd = opts.cmd ?? ['sleep', '3600'];
  const args = ['run', '--network', 'none', '--name', opts.name];
  if (detach) args.push('-d');
  for (const [k, v] of Object.entries(opts.labels ?? {})) args.push('--label', `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('--env', `${k}=${v}`);
  args.push(...(opts.extraArgs ?? []), image, ...cmd);
  const dopts: DockerOptions = opts.host ? { host: opts.host } : {};
  const r = await docker(args, dopts);
  if (r.code !== 0) {
    const links = linkPairs(opts.extraArgs ?? []);
    const host = opts.host ?? defaultHost();
    if (/links are only supported for user-defined networks/.test(r.stderr) && links && host.startsWith('unix://')) {
      return runViaApi(host.slice('unix://'.length), { ...opts, image, cmd, detach }, links);
    }
    throw new Error(`docker ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.trim()}\n${r.stdout.trim()}`);
  }
  const out = r.stdout.trim();
  if (detach && /^[0-9a-f]{64}$/.test(out)) return out;
  return dockerOk(['inspect', '--type', 'container', '--format', '{{.Id}}', opts.name], dopts);
}

/** `['--link', 'a:b', '--link=c:d']` -> `['a:b', 'c:d']`; undefined if anything else is in there. */
function linkPairs(extra: string[]): string[] | undefined {
  const links: string[] = [];
  for (let i = 0; i < extra.length; i++) {
    const a = extra[i]!;
    if (a === '--link' && extra[i + 1] !== undefined) links.push(extra[++i]!);
    else if (a.startsWith('--link=')) links.push(a.slice('--link='.length));
    else return undefined;
  }
  return links.length > 0 ? links : undefined;
}

async function runViaApi(
  sock: string,
  o: RunContainerOptions & { image: string; cmd: string[]; detach: boolean },
  links: string[],
): Promise<string> {
  const env = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const created = await engineRequest(sock, 'POST', `/containers/create?name=${encodeURIComponent(o.name)}`, {
    Image: o.image,
    Cmd: o.cmd,
    Env: env.length > 0 ? env : null,
    Labels: o.labels ?? {},
    AttachStdout: !o.detach,
    AttachStderr: !o.detach,
    HostConfig: { NetworkMode: 'none', Links: links.map((l) => (l.includes(':') ? l : `${l}:${l}`)) },
  });
  if (created.status !== 201) throw new Error(`create ${o.name} via API: HTTP ${created.status} ${created.body}`);
  const id = (JSON.parse(created.body) as { Id: string }).Id;
  const started = await engineRequest(sock, 'POST', `/containers/${id}/start`);
  if (started.status !== 204) throw new Error(`start ${o.name} via API: HTTP ${started.status} ${started.body}`);
  if (!o.detach) await engineRequest(sock, 'POST', `/containers/${id}/wait`);
  return id;
}

/** One Engine API request over a unix socket; the body is returned as text. */
export function engineRequest(sock: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        socketPath: sock,
        method,
        path,
        headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** `docker rm -f` the given containers (ignores "no such container"). */
export async function removeContainers(refs: string[], opts: DockerOptions = {}): Promise<void> {
  if (refs.length === 0) return;
  await docker(['rm', '-f', ...refs], opts);
}

// ---------------------------------------------------------------------------
// dockerd

export interface Dockerd {
  dir: string;
  /** Path of the API unix socket. */
  sock: string;
  /** `unix://<sock>`, for DOCKER_HOST. */
  host: string;
  pid: number;
  logFile: string;
  /** Last lines of dockerd's log. */
  logTail(lines?: number): string;
  /** Remove all containers, stop dockerd (SIGTERM, SIGKILL after 15 s), unmount and delete the dir. */
  stop(): Promise<void>;
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** GET /_ping on a unix socket; resolves true on a 200 `OK`. */
export function pingSocket(sock: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: sock, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 && body === 'OK'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function waitForPidGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

/** Mount points at or below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  let table = '';
  try {
    table = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  return table
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((m): m is string => m !== undefined)
    .map(unescape)
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export function unmountAllUnder(dir: string): void {
  for (let round = 0; round < 3; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      const r = spawnSync('umount', [m], { stdio: 'ignore' });
      if (r.status !== 0) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
}

export interface StartDockerdOptions {
  /** Parent directory for the mkdtemp dir. Default /tmp (keep it short). */
  parent?: string;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** Extra dockerd flags. */
  extraArgs?: string[];
}

const running = new Set<{ pid: number; dir: string }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the test process dies without teardown: don't leave daemons behind.
  atProcessExit(() => {
    for (const d of running) {
      try {
        process.kill(d.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  });
}

/** Start a private dockerd and wait until `GET /_ping` answers. */
export async function startDockerd(opts: StartDockerdOptions = {}): Promise<Dockerd> {
  const check = canRunDockerd();
  if (!check.ok) throw new Error(`cannot run dockerd: ${check.reason}`);
  const dir = mkdtempSync(join(opts.parent ?? '/tmp', 'ds-'));
  const sock = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const logFd = openSync(logFile, 'a');
  const args = [
    '--host', `unix://${sock}`,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'dockerd.pid'),
    '--bridge=none',
    '--iptables=false',
    '--ip-masq=false',
    // If a system containerd is running, dockerd uses it instead of starting its own;
    // a private namespace keeps our containers apart from anybody else's.
    '--containerd-namespace', `sieve-${dir.slice(-6)}`,
    '--containerd-plugins-namespace', `sieve-${dir.slice(-6)}-plugins`,
    ...(opts.extraArgs ?? []),
  ];
  const env: NodeJS.ProcessEnv = { PATH: DAEMON_PATH, HOME: '/root', LANG: 'C.UTF-8' };
  const child = spawn(findBinary('dockerd')!, args, { env, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error('dockerd did not start (no pid)');
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
        const ids = await docker(['ps', '-aq', '--no-trunc'], { host: `unix://${sock}`, timeoutMs: 30_000 });
        const list = ids.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
        if (list.length > 0) await docker(['rm', '-f', '-v', ...list], { host: `unix://${sock}`, timeoutMs: 60_000 });
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 15_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      // A SIGKILLed dockerd leaves its managed containerd behind.
      const ctrPidFile = join(dir, 'exec', 'containerd', 'containerd.pid');
      const ctrPid = existsSync(ctrPidFile) ? Number(readFileSync(ctrPidFile, 'utf8').trim()) : NaN;
      if (Number.isInteger(ctrPid) && ctrPid > 1 && isAlive(ctrPid)) {
        process.kill(ctrPid, 'SIGTERM');
        if (!(await waitForPidGone(ctrPid, 10_000))) {
          try {
            process.kill(ctrPid, 'SIGKILL');
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

  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) {
      const log = tail(logFile);
      await stop();
      throw new Error(`dockerd exited during startup (code ${child.exitCode}, signal ${child.signalCode}). Log tail:\n${log}`);
    }
    if (existsSync(sock) && (await pingSocket(sock))) break;
    if (Date.now() > deadline) {
      const log = tail(logFile);
      await stop();
      throw new Error(`dockerd did not answer GET /_ping on ${sock} within ${timeoutMs} ms. Log tail:\n${log}`);
    }
    await sleep(200);
  }

  return {
    dir,
    sock,
    host: `unix://${sock}`,
    pid,
    logFile,
    logTail: (lines?: number) => tail(logFile, lines),
    stop,
  };
}

/**
 * The busybox image's rootfs as an uncompressed tar: only /bin/busybox (from
 * busybox-static) and applet symlinks, owned by 0:0. Shared by the dockerd and
 * the Podman harness (`docker import -` / `podman import -`).
 */
export function busyboxRootfsTar(): Buffer {
  const root = mkdtempSync(join(tmpdir(), 'ds-rootfs-'));
  try {
    mkdirSync(join(root, 'bin'));
    copyFileSync(BUSYBOX_SOURCE, join(root, 'bin', 'busybox'));
    for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', join(root, 'bin', applet));
    const tar = spawnSync(findBinary('tar') ?? 'tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-c', '.'], {
      maxBuffer: 64 * 1024 * 1024,
    });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr.toString()}`);
    return tar.stdout;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Build `local/busybox:1` if the daemon does not have it: a rootfs with only
 * /bin/busybox and applet symlinks (busyboxRootfsTar), imported with `docker import`.
 */
export async function ensureBusyboxImage(host: string): Promise<void> {
  const have = await docker(['image', 'inspect', '--format', '{{.Id}}', BUSYBOX_IMAGE], { host });
  if (have.code === 0) return;
  await dockerOk(['import', '-', BUSYBOX_IMAGE], { host, input: busyboxRootfsTar(), timeoutMs: 120_000 });
}
