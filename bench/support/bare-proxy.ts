// Starts bare-proxy-child.ts: a minimal Node.js proxy, for reference rows.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from './sieve-process.js';

const CHILD = fileURLToPath(new URL('./bare-proxy-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BareProxy {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startBareProxy(upstreamUrl: string, mode: 'plain' | 'filter'): Promise<BareProxy> {
  const port = await freeLoopbackPort();
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, upstreamUrl, String(port), mode], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bare proxy did not start')), 30_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`the bare proxy exited (${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
