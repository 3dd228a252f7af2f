// docker-sieve as a separate process (the built dist/server.js), so its memory is measured on its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { procStatusBytes } from './proc.js';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../dist/server.js', import.meta.url));

/**
 * The Node.js flags of the `docker-sieve` bin, read from its shebang (`#!/usr/bin/env -S node --flag...`), so
 * that docker-sieve is measured as the bin, `npm start` and the image run it.
 */
export function binNodeArgs(entry = ENTRY): string[] {
  const first = readFileSync(entry, 'utf8').split('\n', 1)[0]!;
  const words = first.replace(/^#!\s*/, '').split(/\s+/);
  const node = words.indexOf('node');
  if (node === -1) throw new Error(`${entry}: the shebang does not run node: ${first}`);
  return words.slice(node + 1);
}

export interface SieveProcess {
  url: string;
  pid: number;
  rssBytes(): number;
  /** The peak RSS (VmHWM) since start, or since resetPeakRss(). */
  peakRssBytes(): number;
  /** Resets VmHWM to the current RSS (writes 5 to /proc/PID/clear_refs: Linux, same user or root). */
  resetPeakRss(): void;
  stop(): Promise<void>;
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}


export interface SieveProcessOptions {
  /**
   * The loopback port it listens on, for a CONFIG_FILE with `listeners`: then PORT and LISTEN_ADDRESS are left out
   * of its environment (the file owns them) and the file must have a plain listener on 127.0.0.1 at this port.
   */
  filePort?: number;
}

/**
 * Starts dist/server.js with the bin's own Node.js flags, then `nodeArgs` (`--cpu-prof` to find out where the
 * time goes, or a flag to compare against).
 */
export async function startSieveProcess(env: Record<string, string>, nodeArgs: string[] = [], options: SieveProcessOptions = {}): Promise<SieveProcess> {
  const port = options.filePort ?? (await freeLoopbackPort());
  const listenEnv = options.filePort === undefined ? { LISTEN_ADDRESS: '127.0.0.1', PORT: String(port) } : {};
  const child: ChildProcess = spawn(process.execPath, [...binNodeArgs(), ...nodeArgs, ENTRY], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...listenEnv, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(`${url}/_ping`, { method: 'HEAD' });
      if (response.status > 0) break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`docker-sieve did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const pid = child.pid!;
  return {
    url,
    pid,
    rssBytes() {
      return procStatusBytes(pid, 'VmRSS');
    },
    peakRssBytes() {
      return procStatusBytes(pid, 'VmHWM');
    },
    resetPeakRss() {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
