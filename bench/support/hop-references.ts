// The physical limits of one more hop, measured in the same rounds as docker-sieve, for reference rows:
//   - HAProxy (C, event-driven, connection reuse) as a second HTTP proxy in front of the same upstream;
//   - a Node.js TCP pipe: each client connection piped to its own upstream connection, no HTTP at all.
// Neither judges anything; they say what any proxy in this place costs on this machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary } from '../../test/integration/harness/dockerd.js';
import { assertLoopback } from './load.js';
import { freeLoopbackPort } from './sieve-process.js';

const PIPE_CHILD = fileURLToPath(new URL('./tcp-pipe-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface HopReference {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function answering(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fetch(`${url}/_ping`);
      return;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function stopper(child: ChildProcess, cleanup: () => void = () => undefined): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    cleanup();
  };
}

/** HAProxy in HTTP mode with keep-alive on both sides, in front of `upstreamUrl`; undefined without haproxy. */
export async function startHaproxyHop(upstreamUrl: string): Promise<HopReference | undefined> {
  const haproxy = findBinary('haproxy');
  if (haproxy === undefined) return undefined;
  assertLoopback(upstreamUrl);
  const upstream = new URL(upstreamUrl);
  const port = await freeLoopbackPort();
  const dir = mkdtempSync(join(tmpdir(), 'sieve-bench-hop-'));
  const cfg = join(dir, 'hop.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 1024',
      'defaults',
      '  mode http',
      '  option http-keep-alive',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend hop',
      `  bind 127.0.0.1:${port}`,
      '  default_backend upstream',
      'backend upstream',
      `  server upstream 127.0.0.1:${upstream.port}`,
      '',
    ].join('\n'),
  );
  const child = spawn(haproxy, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const stop = stopper(child, () => rmSync(dir, { recursive: true, force: true }));
  try {
    await answering(url, child, 'the HAProxy hop');
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: child.pid!, stop };
}

/** A Node.js TCP pipe in front of `upstreamUrl` (tcp-pipe-child.ts). */
export async function startTcpPipe(upstreamUrl: string): Promise<HopReference> {
  assertLoopback(upstreamUrl);
  const port = await freeLoopbackPort();
  const child = spawn(process.execPath, ['--import', 'tsx', PIPE_CHILD, String(new URL(upstreamUrl).port), String(port)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = stopper(child);
  try {
    await answering(url, child, 'the TCP pipe');
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: child.pid!, stop };
}
