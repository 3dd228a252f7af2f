// Soak: 100,000 mixed requests through docker-sieve on loopback (list, inspect of known and random refs,
// ping, version), after as many to warm it up, reporting docker-sieve's RSS and JS heap before and after, each
// read after a full GC, and where RSS grew (/proc/PID/smaps). Bounded in count and time; exits 1 if RSS grew by 20 MB or more.
//   npx tsx bench/soak.ts [requests]
//   SOAK_NODE_ARGS='--max-semi-space-size=16' npx tsx bench/soak.ts   (to compare a Node.js flag)
import { Pool } from 'undici';
import { residentRegions, type ResidentRegions } from './support/proc.js';
import { openRemoteGc, type RemoteGc } from './support/inspector.js';
import { startStaticUpstream } from './support/static-upstream.js';
import { freeLoopbackPort, startSieveProcess } from './support/sieve-process.js';

export interface SoakResult {
  requests: number;
  seconds: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  growthMb: number;
  /** The JS heap in use after a full GC, before and after: a leak in JavaScript shows here first. */
  heapBeforeMb: number;
  heapAfterMb: number;
  /** Where RSS grew, by kind of mapping (MB). */
  growthByRegionMb: { brk: number; anonymous: number; file: number };
  statuses: Record<string, number>;
  upstreamInspects: number;
}

/** Per phase (warm-up, measured). */
const MAX_SECONDS = 200;

/**
 * RSS once the load has stopped and a full GC has run, the lowest of a few samples over a second. Without the GC,
 * RSS holds garbage that V8 collects when it chooses (its memory reducer waits about 8 s of quiet, and longer on a
 * busy machine), so the difference would measure GC timing. A leak is what stays once it has been collected.
 */
async function collectedRss(pid: number, read: () => number, gc: RemoteGc): Promise<{ rss: number; heapUsed: number; regions: ResidentRegions }> {
  const heap = await gc.collectGarbage();
  let lowest = read();
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    lowest = Math.min(lowest, read());
  }
  return { rss: lowest, heapUsed: heap.usedBytes, regions: residentRegions(pid) };
}

/**
 * `warmup` requests first (JIT, pools, caches, and malloc's main heap: measured after a GC, that heap grew by 0 to
 * 11 MB over the first 100,000 requests in 14 runs, and by about 1 MB over the next 100,000), then `total` measured.
 */
export async function runSoak(total = 100_000, concurrency = 32, warmup = total): Promise<SoakResult> {
  const upstream = await startStaticUpstream({ containers: 50 });
  const nodeArgs = (process.env.SOAK_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const inspectPort = await freeLoopbackPort();
  const sieve = await startSieveProcess({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', CACHE_TTL: '2' }, [
    ...nodeArgs,
    `--inspect-port=127.0.0.1:${inspectPort}`,
  ]);
  let gc: RemoteGc | undefined;
  const pool = new Pool(sieve.url, { connections: concurrency });
  const statuses: Record<string, number> = {};
  let sent = 0;
  let phaseStarted = Date.now();

  const pick = (i: number): { method: 'GET' | 'HEAD'; path: string } => {
    switch (i % 6) {
      case 0:
        return { method: 'GET', path: '/v1.41/containers/json?all=1' };
      case 1:
        return { method: 'GET', path: `/containers/web-${(i % 25) * 2}/json` };
      case 2:
        // A fresh random ref every time: the resolver must not keep them all.
        return { method: 'GET', path: `/containers/random-${i}-${Math.random().toString(36).slice(2)}/json` };
      case 3:
        return { method: 'HEAD', path: '/_ping' };
      case 4:
        return { method: 'GET', path: `/containers/db-${(i % 25) * 2 + 1}/logs` };
      default:
        return { method: 'GET', path: '/v1.41/version' };
    }
  };

  async function worker(count: number): Promise<void> {
    while (sent < count && Date.now() - phaseStarted < MAX_SECONDS * 1000) {
      const { method, path } = pick(sent++);
      const response = await pool.request({ method, path });
      await response.body.dump();
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    }
  }

  try {
    await Promise.all(Array.from({ length: concurrency }, () => worker(warmup)));
    gc = await openRemoteGc(sieve.pid, inspectPort);
    const before = await collectedRss(sieve.pid, sieve.rssBytes, gc);
    sent = 0;
    const measuredStart = (phaseStarted = Date.now());
    await Promise.all(Array.from({ length: concurrency }, () => worker(total)));
    const after = await collectedRss(sieve.pid, sieve.rssBytes, gc);
    return {
      requests: sent,
      seconds: (Date.now() - measuredStart) / 1000,
      rssBeforeMb: before.rss / 1024 / 1024,
      rssAfterMb: after.rss / 1024 / 1024,
      growthMb: (after.rss - before.rss) / 1024 / 1024,
      heapBeforeMb: before.heapUsed / 1024 / 1024,
      heapAfterMb: after.heapUsed / 1024 / 1024,
      growthByRegionMb: {
        brk: (after.regions.brkBytes - before.regions.brkBytes) / 1024 / 1024,
        anonymous: (after.regions.anonymousBytes - before.regions.anonymousBytes) / 1024 / 1024,
        file: (after.regions.fileBytes - before.regions.fileBytes) / 1024 / 1024,
      },
      statuses,
      upstreamInspects: upstream.counts.get('inspect') ?? 0,
    };
  } finally {
    gc?.close();
    await pool.close();
    await sieve.stop();
    await upstream.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const total = Number(process.argv[2] ?? 100_000);
  const result = await runSoak(total);
  console.log(
    `soak: ${result.requests} requests in ${result.seconds.toFixed(1)} s; RSS ${result.rssBeforeMb.toFixed(1)} MB → ${result.rssAfterMb.toFixed(1)} MB (${result.growthMb >= 0 ? '+' : ''}${result.growthMb.toFixed(1)} MB); JS heap ${result.heapBeforeMb.toFixed(1)} MB → ${result.heapAfterMb.toFixed(1)} MB; growth by region ${JSON.stringify(result.growthByRegionMb, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(1)) : v))}; statuses ${JSON.stringify(result.statuses)}`,
  );
  if (result.requests < total) {
    console.error(`soak: only ${result.requests} of ${total} requests within ${MAX_SECONDS} s`);
    process.exit(1);
  }
  if (result.growthMb >= 20) {
    console.error('soak: RSS grew by 20 MB or more');
    process.exit(1);
  }
}
