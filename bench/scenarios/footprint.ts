// Issue 13, target 2: docker-sieve's idle RSS right after start-up and after 1,000 mixed requests (the list, a
// visible container's inspect, a hidden container's inspect, /_ping), each figure the median of five samples
// once the process has settled. Started as the bin starts it (its shebang's flags: sieve-process.ts).
import { startSieveProcess } from '../support/sieve-process.js';
import { startUpstreamProcess } from '../support/upstream-process.js';
import { load, median } from '../support/load.js';
import { procStatusBytes } from '../support/proc.js';
import { mb, verdict, type Row } from '../support/report.js';

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));

/** The bar of target 2. */
export const IDLE_RSS_BYTES = 60 * 1024 * 1024;

/** The four kinds of request, in turn; web-0 is visible to CONTAINER_NAMES=web, db-1 is not. */
export const MIXED_PATHS = ['/v1.41/containers/json?all=1', '/v1.41/containers/web-0/json', '/v1.41/containers/db-1/json', '/_ping'];

export interface IdleMeasurement {
  startBytes: number;
  afterBytes: number;
  anonBytes: number;
  fileBytes: number;
  requests: number;
}

async function settled(pid: number): Promise<{ rss: number; anon: number; file: number }> {
  await sleep(1_000);
  const rss: number[] = [];
  const anon: number[] = [];
  const file: number[] = [];
  for (let i = 0; i < 5; i++) {
    rss.push(procStatusBytes(pid, 'VmRSS'));
    anon.push(procStatusBytes(pid, 'RssAnon'));
    file.push(procStatusBytes(pid, 'RssFile'));
    await sleep(100);
  }
  return { rss: median(rss), anon: median(anon), file: median(file) };
}

export async function measureIdle(options: { requests: number; nodeArgs?: string[] }): Promise<IdleMeasurement> {
  const upstream = await startUpstreamProcess({ containers: 50, events: 'live' });
  try {
    const sieve = await startSieveProcess({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web' }, options.nodeArgs ?? []);
    try {
      const start = await settled(sieve.pid);
      // Two connections, so that keep-alive and a second socket are both in play; the 404 of the hidden inspect
      // is part of the mix, so non-2xx answers are expected here.
      const result = await load({ url: sieve.url, paths: MIXED_PATHS, connections: 2, amount: options.requests, maxSeconds: 60 });
      if (result.requests + result.non2xx < options.requests) throw new Error(`idle: only ${result.requests + result.non2xx} of ${options.requests} requests answered`);
      const after = await settled(sieve.pid);
      return { startBytes: start.rss, afterBytes: after.rss, anonBytes: after.anon, fileBytes: after.file, requests: options.requests };
    } finally {
      await sieve.stop();
    }
  } finally {
    await upstream.stop();
  }
}

export async function idleScenario(options: { requests: number }, log: (line: string) => void): Promise<Row[]> {
  const m = await measureIdle(options);
  log(`idle: ${mb(m.startBytes)} after start, ${mb(m.afterBytes)} after ${m.requests} requests (anonymous ${mb(m.anonBytes)}, file-backed ${mb(m.fileBytes)})`);
  return [
    {
      target: '13.2',
      scenario: `Idle RSS after start-up and ${m.requests.toLocaleString('en-US')} mixed requests (list, inspect, hidden inspect, /_ping); anonymous and file-backed (the node binary's pages) after`,
      baseline: `after start-up ${mb(m.startBytes)}`,
      sieve: `${mb(m.afterBytes)} (${mb(m.anonBytes)} + ${mb(m.fileBytes)})`,
      ratio: `+${mb(m.afterBytes - m.startBytes)}`,
      bar: '≤ 60 MB',
      verdict: verdict(m.afterBytes <= IDLE_RSS_BYTES && m.startBytes <= IDLE_RSS_BYTES),
      data: { ...m },
    },
  ];
}
