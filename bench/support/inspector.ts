// A full garbage collection in another Node.js process, through its inspector: SIGUSR1 opens the inspector on
// the loopback port that `--inspect-port` named (the flag alone opens nothing), then the DevTools protocol's
// HeapProfiler.collectGarbage runs a full GC. The soak measures a leak as what stays after that, not as garbage
// that V8 has not collected yet.
import { WebSocket } from 'undici';

export interface HeapUsage {
  usedBytes: number;
  totalBytes: number;
}

export interface RemoteGc {
  /** Two full GCs (the second frees what the first's finalizers released), then the JS heap's usage. */
  collectGarbage(): Promise<HeapUsage>;
  close(): void;
}

async function debuggerUrl(port: number, deadline: number): Promise<string> {
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/json/list`);
      const targets = (await response.json()) as { webSocketDebuggerUrl?: string }[];
      const url = targets[0]?.webSocketDebuggerUrl;
      if (url !== undefined) return url;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no inspector on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function openRemoteGc(pid: number, inspectPort: number): Promise<RemoteGc> {
  process.kill(pid, 'SIGUSR1');
  const socket = new WebSocket(await debuggerUrl(inspectPort, Date.now() + 10_000));
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('inspector connection failed')), { once: true });
  });
  let nextId = 0;
  const pending = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
    if (message.id !== undefined) pending.delete(message.id);
  });
  const call = (method: string): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method }));
    });
  return {
    async collectGarbage() {
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
      const usage = (await call('Runtime.getHeapUsage')) as { usedSize: number; totalSize: number };
      return { usedBytes: usage.usedSize, totalBytes: usage.totalSize };
    },
    close() {
      socket.close();
    },
  };
}
