// The static upstream in a child process of its own, so that it does not share an event loop (or a CPU's
// worth of time slices) with the load generator.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StaticUpstreamOptions } from './static-upstream.js';

const CHILD = fileURLToPath(new URL('./upstream-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface UpstreamProcess {
  url: string;
  pid: number;
  listBytes: number;
  counts(): Promise<Record<string, number>>;
  /** Date.now() in the child when the last list answer's last byte was handed to its socket. */
  lastListEndAt(): Promise<number>;
  /** Events to every open /events stream: `rate` per second for `seconds`. Resolves with how many were sent. */
  broadcastEvents(rate: number, seconds: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startUpstreamProcess(options: StaticUpstreamOptions): Promise<UpstreamProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(options)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const waiting = new Map<number, (value: unknown) => void>();
  const ready = new Promise<{ url: string; listBytes: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`static upstream exited (${code}) before it was ready`)));
    child.on('message', (message: { ready?: boolean; url?: string; listBytes?: number; id?: number; value?: unknown }) => {
      if (message.ready === true) resolve({ url: message.url!, listBytes: message.listBytes! });
      else if (message.id !== undefined) {
        waiting.get(message.id)?.(message.value);
        waiting.delete(message.id);
      }
    });
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const { url, listBytes } = await ready.finally(() => clearTimeout(timeout));
  const call = <T>(op: string, extra: Record<string, unknown> = {}): Promise<T> =>
    new Promise((resolve, reject) => {
      if (!child.connected) {
        reject(new Error('static upstream is gone'));
        return;
      }
      const id = nextId++;
      waiting.set(id, resolve as (value: unknown) => void);
      child.send({ id, op, ...extra });
    });
  return {
    url,
    pid: child.pid!,
    listBytes,
    counts: () => call('counts'),
    lastListEndAt: () => call('lastListEndAt'),
    broadcastEvents: (rate, seconds) => call('events', { rate, seconds }),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await Promise.race([call('stop'), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
