// A CPU-bound neighbour (`stress`-like): a process that spins on one core, so that docker-sieve is measured on a
// loaded machine, where the garbage collector gets less idle time. Bounded: it stops by itself after `maxSeconds`
// even if no one stops it, and it touches no network at all.
import { spawn, type ChildProcess } from 'node:child_process';

export interface CpuNeighbour {
  pid: number;
  stop(): Promise<void>;
}

export function startCpuNeighbour(maxSeconds: number): CpuNeighbour {
  const spin = `const end = Date.now() + ${Math.round(maxSeconds * 1000)}; let x = 0; while (Date.now() < end) { for (let i = 0; i < 1e5; i++) x = (x * 31 + i) | 0; }`;
  const child: ChildProcess = spawn(process.execPath, ['-e', spin], { stdio: 'ignore' });
  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
