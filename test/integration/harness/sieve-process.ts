/**
 * docker-sieve as a real process (`node dist/server.js`), for tests of what only the process does: the config
 * file's listeners, reloads on SIGHUP or a change of the file, and its JSON log lines.
 *
 *   const sieve = await startSieveProcess({ configFile, env: { AUDITOR_TOKEN: '…' } });
 *   await sieve.waitForLog((line) => line.msg === 'config reloaded');
 *   await sieve.stop();
 *
 * The child gets a clean environment (PATH, HOME, LOG_LEVEL=info, CONFIG_FILE and `env`), and runs in the config
 * file's directory, so neither this machine's variables nor a `.env` in the repository change what it does.
 * `npm run build` first: this runs what is in dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atProcessExit } from './exit-hooks.js';

export const SIEVE_ENTRY = fileURLToPath(new URL('../../../dist/server.js', import.meta.url));

/** One pino line as docker-sieve writes it (JSON, one per line). */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface StartSieveProcessOptions {
  /** Absolute path of the YAML file, given as CONFIG_FILE. */
  configFile: string;
  /** More environment for the child (after the clean base). LOG_LEVEL may be overridden here. */
  env?: Record<string, string>;
  /** How long to wait for every listener to listen. Default 20 s. */
  readyTimeoutMs?: number;
}

export interface SieveProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The listeners it announced in its `docker-sieve starting` line (`tcp://127.0.0.1:1234`, `unix:///…`). */
  readonly listeners: readonly string[];
  /** Every JSON log line so far, in order (stdout and stderr). */
  logs(): LogLine[];
  /** Everything it wrote so far, raw (JSON lines and anything else). */
  output(): string;
  /** A position in logs(), for logsSince() and waitForLog({ since }). */
  mark(): number;
  logsSince(mark: number): LogLine[];
  /** The first line (at or after `since`) that `match` accepts; rejects after `timeoutMs` (default 10 s) or if the process exits. */
  waitForLog(match: (line: LogLine) => boolean, opts?: { since?: number; timeoutMs?: number }): Promise<LogLine>;
  readonly exited: boolean;
  /** Send a signal (SIGHUP for a reload). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 s). Resolves with how it ended. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export async function startSieveProcess(opts: StartSieveProcessOptions): Promise<SieveProcess> {
  if (!existsSync(SIEVE_ENTRY)) throw new Error(`${SIEVE_ENTRY} is missing: run npm run build first`);
  const child = spawn(process.execPath, [SIEVE_ENTRY], {
    cwd: dirname(opts.configFile),
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'info',
      CONFIG_FILE: opts.configFile,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('docker-sieve did not start (no pid)');
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    atProcessExit(() => {
      for (const c of live) c.kill('SIGKILL');
    });
  }

  let raw = '';
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  const partial = { stdout: '', stderr: '' };
  const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    raw += text;
    partial[stream] += text;
    let newline: number;
    while ((newline = partial[stream].indexOf('\n')) !== -1) {
      const line = partial[stream].slice(0, newline);
      partial[stream] = partial[stream].slice(newline + 1);
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        // not one of pino's lines
      }
    }
    notify();
  };
  child.stdout!.on('data', take('stdout'));
  child.stderr!.on('data', take('stderr'));

  let exited = false;
  const exitP = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      live.delete(child);
      notify();
      resolve({ code, signal });
    }),
  );

  const waitForLog = (match: (line: LogLine) => boolean, o: { since?: number; timeoutMs?: number } = {}): Promise<LogLine> => {
    const since = o.since ?? 0;
    const timeoutMs = o.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        const found = lines.slice(since).find(match);
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (exited) {
          finish();
          reject(new Error(`docker-sieve exited (code ${child.exitCode}, signal ${child.signalCode}) before the log line came:\n${raw.slice(-4000)}`));
        }
      };
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`no such docker-sieve log line within ${timeoutMs} ms; the last lines:\n${raw.slice(-4000)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  };

  const stop = async (graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exitP;
      clearTimeout(t);
      return result;
    }
    return exitP;
  };

  let listeners: string[];
  try {
    const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
    const starting = await waitForLog((line) => line.msg === 'docker-sieve starting', { timeoutMs: readyTimeoutMs });
    listeners = Array.isArray(starting.listeners) ? (starting.listeners as string[]) : [];
    const want = Math.max(1, listeners.length);
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const listening = lines.filter((line) => line.msg === 'listening' || /^Server listening at /.test(line.msg)).length;
      if (listening >= want) break;
      await waitForLog(() => lines.filter((line) => line.msg === 'listening' || /^Server listening at /.test(line.msg)).length > listening, {
        timeoutMs: Math.max(1, deadline - Date.now()),
      });
    }
  } catch (error) {
    await stop(2_000);
    throw error;
  }

  return {
    pid,
    child,
    listeners,
    logs: () => lines.slice(),
    output: () => raw,
    mark: () => lines.length,
    logsSince: (mark) => lines.slice(mark),
    waitForLog,
    get exited() {
      return exited;
    },
    signal: (signal) => {
      if (!exited) child.kill(signal);
    },
    stop,
  };
}
