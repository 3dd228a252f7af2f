/**
 * HAProxy as a tecnativa-style "socket proxy" in front of the private dockerd.
 * See haproxy.cfg next to this file for the access model.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../../support/free-port.js';

export { freePort };
import { fileURLToPath } from 'node:url';
import { findBinary } from './dockerd.js';
import { atProcessExit } from './exit-hooks.js';

export const HAPROXY_CFG = fileURLToPath(new URL('./haproxy.cfg', import.meta.url));

/** The env switches haproxy.cfg understands, with the tecnativa defaults. */
export const SOCKET_PROXY_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  PING: '1',
  VERSION: '1',
  EVENTS: '1',
  INFO: '0',
  CONTAINERS: '0',
  IMAGES: '0',
  NETWORKS: '0',
  VOLUMES: '0',
  EXEC: '0',
  SYSTEM: '0',
  SERVICES: '0',
  TASKS: '0',
  NODES: '0',
  SWARM: '0',
  SECRETS: '0',
  CONFIGS: '0',
  PLUGINS: '0',
  DISTRIBUTION: '0',
  SESSION: '0',
  GRPC: '0',
  AUTH: '0',
  BUILD: '0',
  COMMIT: '0',
  POST: '0',
  DELETE: '0',
  ALLOW_START: '0',
  ALLOW_STOP: '0',
  ALLOW_RESTARTS: '0',
});

export interface SocketProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `tcp://127.0.0.1:<port>`, for DOCKER_HOST. */
  dockerHost: string;
  port: number;
  pid: number;
  /** HAProxy's stdout/stderr so far (request log lines included). */
  output(): string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const live = new Set<number>();
let exitHookInstalled = false;

/**
 * Start HAProxy (foreground, `-db`) listening on 127.0.0.1:<free port> and
 * forwarding to `dockerSock`. `env` overrides SOCKET_PROXY_DEFAULTS, e.g.
 * `{ CONTAINERS: '1' }`. The process environment is NOT inherited.
 */
export async function startSocketProxy(dockerSock: string, env: Record<string, string> = {}): Promise<SocketProxy> {
  const haproxy = findBinary('haproxy');
  if (!haproxy) throw new Error('haproxy not found');
  for (const key of Object.keys(env)) {
    if (!(key in SOCKET_PROXY_DEFAULTS)) throw new Error(`startSocketProxy: unknown switch ${key}`);
  }
  const port = await freePort();
  const child = spawn(haproxy, ['-db', '-f', HAPROXY_CFG], {
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      ...SOCKET_PROXY_DEFAULTS,
      ...env,
      LISTEN_PORT: String(port),
      SOCKET_PATH: dockerSock,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (b: Buffer) => {
    out += b.toString('utf8');
    if (out.length > 256 * 1024) out = out.slice(-128 * 1024);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  child.on('error', (err) => append(Buffer.from(`[spawn error] ${String(err)}\n`)));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`haproxy did not start: ${out}`);
  live.add(pid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    atProcessExit(() => {
      for (const p of live) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    });
  }

  let exited = child.exitCode !== null;
  const exitP = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      live.delete(pid);
      resolve();
    }),
  );

  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM'); // -db: SIGTERM is an immediate stop, even with open streams
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exitP;
    clearTimeout(t);
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) throw new Error(`haproxy exited during startup (code ${child.exitCode}):\n${out}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not listen on 127.0.0.1:${port} within 10 s:\n${out}`);
    }
    await sleep(50);
  }

  return {
    url: `http://127.0.0.1:${port}`,
    dockerHost: `tcp://127.0.0.1:${port}`,
    port,
    pid,
    output: () => out,
    stop,
  };
}
