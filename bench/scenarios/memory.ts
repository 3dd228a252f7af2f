// Issue 13, target 1: docker-sieve's peak RSS while it streams a 50,000-container list (about 100 MB), against its
// own idle RSS measured in the same process just before: at 10% and at 50% visible, for a fast and for a slow
// client, alone and beside a CPU-bound neighbour. And (issue 5) the first bytes of a slow upstream's list going
// out before the upstream has sent its last byte.
import { request } from 'undici';
import { startSieveProcess, type SieveProcess } from '../support/sieve-process.js';
import { startUpstreamProcess } from '../support/upstream-process.js';
import { scaledList, TENTH_LABEL } from '../support/static-upstream.js';
import { startCpuNeighbour } from '../support/neighbour.js';
import { assertLoopback, median } from '../support/load.js';
import { mb, ms, verdict, type Row } from '../support/report.js';

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));
const epochMs = () => performance.timeOrigin + performance.now();

/** The bar of target 1: peak RSS at most idle + 16 MB. */
export const PEAK_OVER_IDLE_BYTES = 16 * 1024 * 1024;

/** Who sees what of the scaled list (static-upstream.ts): the environment, and which elements it keeps. */
export const VISIBILITY = {
  '50%': { env: { CONTAINER_NAMES: 'web' }, keeps: (i: number) => i % 2 === 0 },
  '10%': { env: { CONTAINER_LABELS: TENTH_LABEL }, keeps: (i: number) => i % 10 === 0 },
} as const;
export type Visibility = keyof typeof VISIBILITY;

/** Bytes of the filtered list: the kept elements, comma-separated, in `[...]\n`. */
export function expectedFilteredBytes(elementBytes: number[], keeps: (i: number) => boolean): number {
  let bytes = 0;
  let kept = 0;
  elementBytes.forEach((size, i) => {
    if (keeps(i)) {
      bytes += size;
      kept++;
    }
  });
  return 1 + bytes + Math.max(kept - 1, 0) + 2;
}

interface Fetched {
  bytes: number;
  /** Epoch ms. */
  started: number;
  headersAt: number;
  /** The first chunk with more than the opening `[` in it. */
  firstEntryAt: number;
  endAt: number;
}

/** GET the list and read it all, at most `bytesPerSecond` fast. Nothing is kept but the counts. */
async function fetchList(url: string, bytesPerSecond: number | undefined, maxSeconds: number): Promise<Fetched> {
  assertLoopback(url);
  const started = epochMs();
  const response = await request(`${url}/v1.41/containers/json?all=1`, { signal: AbortSignal.timeout(maxSeconds * 1000) });
  const headersAt = epochMs();
  if (response.statusCode !== 200) throw new Error(`list answered ${response.statusCode}`);
  let bytes = 0;
  let firstEntryAt = 0;
  for await (const chunk of response.body) {
    const length = (chunk as Buffer).length;
    bytes += length;
    if (firstEntryAt === 0 && bytes > 1) firstEntryAt = epochMs();
    if (bytesPerSecond !== undefined) {
      const due = started + (bytes / bytesPerSecond) * 1000;
      const wait = due - epochMs();
      if (wait > 1) await sleep(wait);
    }
  }
  return { bytes, started, headersAt, firstEntryAt, endAt: epochMs() };
}

/** RSS with the process settled: a few requests served, then the median of five samples a second later. */
async function settledRss(sieve: SieveProcess): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const ping = await request(`${sieve.url}/_ping`);
    await ping.body.text();
  }
  await sleep(1_000);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(sieve.rssBytes());
    await sleep(100);
  }
  return median(samples);
}

export interface PeakCase {
  visibility: Visibility;
  /** undefined: as fast as the client reads. */
  bytesPerSecond: number | undefined;
  neighbour: boolean;
}

export interface PeakMeasurement extends PeakCase {
  idleBytes: number;
  peakBytes: number;
  listBytes: number;
  outBytes: number;
  seconds: number;
}

/**
 * A fresh docker-sieve (with the bin's flags, plus `nodeArgs`) for each case, in front of one static upstream with
 * `containers` containers: idle RSS once settled, then the peak (VmHWM, and samples every 10 ms) while the list
 * streams once. Fresh, so that no case starts from what an earlier one left behind.
 */
export async function measurePeaks(containers: number, cases: readonly PeakCase[], options: { maxSeconds: number; nodeArgs?: string[] }): Promise<PeakMeasurement[]> {
  const { elementBytes } = scaledList(containers);
  const upstream = await startUpstreamProcess({ containers, events: 'live' });
  const results: PeakMeasurement[] = [];
  try {
    for (const c of cases) {
      const { env, keeps } = VISIBILITY[c.visibility];
      const expected = expectedFilteredBytes(elementBytes, keeps);
      const sieve = await startSieveProcess({ PROXY_URL: upstream.url, ...env, LOG_LEVEL: 'info' }, options.nodeArgs ?? []);
      const neighbour = c.neighbour ? startCpuNeighbour(options.maxSeconds + 10) : undefined;
      try {
        const idle = await settledRss(sieve);
        sieve.resetPeakRss();
        let sampled = 0;
        const sampler = setInterval(() => {
          sampled = Math.max(sampled, sieve.rssBytes());
        }, 10);
        const fetched = await fetchList(sieve.url, c.bytesPerSecond, options.maxSeconds).finally(() => clearInterval(sampler));
        const peak = Math.max(sieve.peakRssBytes(), sampled);
        if (fetched.bytes !== expected) throw new Error(`memory: the filtered list (${c.visibility}) has ${fetched.bytes} bytes, expected ${expected}`);
        results.push({ ...c, idleBytes: idle, peakBytes: peak, listBytes: upstream.listBytes, outBytes: fetched.bytes, seconds: (fetched.endAt - fetched.started) / 1000 });
      } finally {
        await neighbour?.stop();
        await sieve.stop();
      }
    }
  } finally {
    await upstream.stop();
  }
  return results;
}

/** Every case of target 1: two visibilities, a fast and a slow client, alone and beside a neighbour. */
export function allPeakCases(slowBytesPerSecond: number): PeakCase[] {
  const cases: PeakCase[] = [];
  for (const visibility of Object.keys(VISIBILITY) as Visibility[]) {
    for (const bytesPerSecond of [undefined, slowBytesPerSecond]) {
      for (const neighbour of [false, true]) cases.push({ visibility, bytesPerSecond, neighbour });
    }
  }
  return cases;
}

export function describePeakCase(c: PeakCase): string {
  const client = c.bytesPerSecond === undefined ? 'fast client' : `slow client (${(c.bytesPerSecond / 1e6).toFixed(0)} MB/s)`;
  return `${c.visibility} visible, ${client}${c.neighbour ? ', CPU-bound neighbour' : ''}`;
}

export interface MemoryOptions {
  containers: number;
  slowBytesPerSecond: number;
  maxSeconds: number;
}

export async function memoryScenario(options: MemoryOptions, log: (line: string) => void): Promise<Row[]> {
  const measured = await measurePeaks(options.containers, allPeakCases(options.slowBytesPerSecond), { maxSeconds: options.maxSeconds });
  return measured.map((m): Row => {
    const growth = m.peakBytes - m.idleBytes;
    const label = describePeakCase(m);
    log(`memory, ${label}: idle ${mb(m.idleBytes)}, peak ${mb(m.peakBytes)} (+${mb(growth)}), ${mb(m.listBytes)} in, ${mb(m.outBytes)} out in ${ms(m.seconds * 1000)}`);
    return {
      target: '13.1',
      scenario: `Memory: GET /containers/json of ${options.containers.toLocaleString('en-US')} containers (${mb(m.listBytes)} in, ${mb(m.outBytes)} out), ${label}: peak RSS`,
      baseline: `idle RSS ${mb(m.idleBytes)}`,
      sieve: `peak RSS ${mb(m.peakBytes)}`,
      ratio: `+${mb(growth)}`,
      bar: '≤ +16 MB',
      verdict: verdict(growth <= PEAK_OVER_IDLE_BYTES),
      data: { ...m },
    };
  });
}

export interface FirstByteOptions {
  containers: number;
  chunkBytes: number;
  delayMs: number;
}

/** A slow upstream: the list in small chunks with pauses. The first entries must be out before it is done. */
export async function firstByteScenario(options: FirstByteOptions, log: (line: string) => void): Promise<Row[]> {
  const upstream = await startUpstreamProcess({
    containers: options.containers,
    events: 'live',
    slowList: { chunkBytes: options.chunkBytes, delayMs: options.delayMs },
  });
  const sieve = await startSieveProcess({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'info' });
  try {
    const direct = await fetchList(upstream.url, undefined, 30);
    const directEnd = await upstream.lastListEndAt();
    const through = await fetchList(sieve.url, undefined, 30);
    const upstreamEnd = await upstream.lastListEndAt();
    const firstEntry = through.firstEntryAt - through.started;
    const upstreamDone = upstreamEnd - through.started;
    log(`first byte: direct first ${ms(direct.firstEntryAt - direct.started)} (upstream done at ${ms(directEnd - direct.started)}); through docker-sieve headers ${ms(through.headersAt - through.started)}, first entry ${ms(firstEntry)}, upstream done ${ms(upstreamDone)}, client done ${ms(through.endAt - through.started)}`);
    return [
      {
        scenario: `Streaming: a slow upstream sends ${options.containers} containers (${mb(upstream.listBytes)}) in ${options.chunkBytes / 1024} KB chunks every ${options.delayMs} ms: first filtered entry out, against the upstream's last byte`,
        baseline: `upstream's last byte at ${ms(upstreamDone)}`,
        sieve: `first entry at ${ms(firstEntry)}`,
        ratio: `${(firstEntry / upstreamDone).toFixed(2)} of the way`,
        bar: 'before the last upstream byte',
        verdict: verdict(firstEntry < upstreamDone),
        data: {
          direct: { firstEntryMs: direct.firstEntryAt - direct.started, upstreamDoneMs: directEnd - direct.started },
          sieve: { headersMs: through.headersAt - through.started, firstEntryMs: firstEntry, upstreamDoneMs: upstreamDone, clientDoneMs: through.endAt - through.started },
        },
      },
    ];
  } finally {
    await sieve.stop();
    await upstream.stop();
  }
}
