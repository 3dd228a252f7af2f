// docker-sieve as a separate process (the built dist/server.js), so its memory is measured on its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../dist/server.js', import.meta.url));

export interface SieveProcess {
  url: string;
  pid: number;
  rssBytes(): number;
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

export async function startSieveProcess(env: Record<string, string>): Promise<SieveProcess> {
  const port = await freeLoopbackPort();
  const child: ChildProcess = spawn(process.execPath, [ENTRY], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', LISTEN_ADDRESS: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
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
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
