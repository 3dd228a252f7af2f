// The real chain for the bench: a private dockerd (the integration harness's), HAProxy as the socket proxy in
// front of it, and N busybox containers with `--network none`, half of them named `web-N` (visible to
// CONTAINER_NAMES=web) and half `db-N`. Needs root, dockerd, HAProxy and busybox-static, as the integration
// suite does; canRunRealChain() says why not.
import { canRunDockerd, ensureBusyboxImage, runContainer, startDockerd, type Dockerd } from '../../test/integration/harness/dockerd.js';
import { startSocketProxy, type SocketProxy } from '../../test/integration/harness/socket-proxy.js';

export interface RealChain {
  /** HAProxy in front of the daemon: `http://127.0.0.1:port`. */
  proxyUrl: string;
  containers: Array<{ name: string; id: string }>;
  stop(): Promise<void>;
}

export function canRunRealChain(): { ok: boolean; reason?: string } {
  return canRunDockerd();
}

const PARALLEL_CREATES = 8;

export async function startRealChain(count: number, log: (line: string) => void): Promise<RealChain> {
  let daemon: Dockerd | undefined;
  let proxy: SocketProxy | undefined;
  try {
    const started = Date.now();
    daemon = await startDockerd();
    await ensureBusyboxImage(daemon.host);
    log(`real chain: private dockerd pid ${daemon.pid} ready in ${Date.now() - started} ms, creating ${count} containers`);
    const containers: Array<{ name: string; id: string }> = [];
    const names = Array.from({ length: count }, (_, i) => (i % 2 === 0 ? `web-${i}` : `db-${i}`));
    const host = daemon.host;
    for (let at = 0; at < names.length; at += PARALLEL_CREATES) {
      const batch = names.slice(at, at + PARALLEL_CREATES);
      const ids = await Promise.all(
        batch.map((name) => runContainer({ name, host, labels: { 'bench.index': name }, cmd: ['sleep', '3600'] })),
      );
      batch.forEach((name, i) => containers.push({ name, id: ids[i]! }));
    }
    log(`real chain: ${count} containers running after ${Date.now() - started} ms`);
    // The socket proxy allows containers (read-only), events, ping and version, as a dashboard's would.
    proxy = await startSocketProxy(daemon.sock, { CONTAINERS: '1' });
    const d = daemon;
    const p = proxy;
    return {
      proxyUrl: proxy.url,
      containers,
      async stop() {
        await p.stop();
        await d.stop();
      },
    };
  } catch (error) {
    await proxy?.stop();
    await daemon?.stop();
    throw error;
  }
}
