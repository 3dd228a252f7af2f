// Target 5: docker-sieve's peak RSS while it streams a 50,000-container list (about 100 MB), against its own idle
// RSS measured in the same run, for a fast and for a slow client; and the first bytes of a slow upstream's list
// going out before the upstream has sent its last byte.
import { request } from 'undici';
import { startSieveProcess } from '../support/sieve-process.js';
import { startUpstreamProcess } from '../support/upstream-process.js';
import { scaledList } from '../support/static-upstream.js';
import { assertLoopback, median } from '../support/load.js';
import { mb, ms, verdict, type Row } from '../support/report.js';

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));
const epochMs = () => performance.timeOrigin + performance.now();

/** Bytes of the filtered list for CONTAINER_NAMES=web: the `web-N` entries (even N), comma-separated, in `[...]\n`. */
function expectedFilteredBytes(elementBytes: number[]): number {
  let bytes = 0;
  let kept = 0;
  elementBytes.forEach((size, i) => {
    if (i % 2 === 0) {
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

export interface MemoryOptions {
  containers: number;
  slowBytesPerSecond: number;
  maxSeconds: number;
}

export async function memoryScenario(options: MemoryOptions, log: (line: string) => void): Promise<Row[]> {
  const { elementBytes } = scaledList(options.containers);
  const expected = expectedFilteredBytes(elementBytes);
  const upstream = await startUpstreamProcess({ containers: options.containers, events: 'live' });
  const sieve = await startSieveProcess({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'info' });
  try {
    // Idle: started, a few requests served, settled.
    for (let i = 0; i < 20; i++) {
      const ping = await request(`${sieve.url}/_ping`);
      await ping.body.text();
    }
    await sleep(1_000);
    const idleSamples: number[] = [];
    for (let i = 0; i < 5; i++) {
      idleSamples.push(sieve.rssBytes());
      await sleep(100);
    }
    const idle = median(idleSamples);
    const rows: Row[] = [];
    for (const [label, rate] of [
      ['fast client', undefined],
      [`slow client (${(options.slowBytesPerSecond / 1e6).toFixed(0)} MB/s)`, options.slowBytesPerSecond],
    ] as const) {
      sieve.resetPeakRss();
      let sampled = 0;
      const sampler = setInterval(() => {
        sampled = Math.max(sampled, sieve.rssBytes());
      }, 10);
      const fetched = await fetchList(sieve.url, rate, options.maxSeconds).finally(() => clearInterval(sampler));
      const peak = Math.max(sieve.peakRssBytes(), sampled);
      if (fetched.bytes !== expected) throw new Error(`memory: the filtered list has ${fetched.bytes} bytes, expected ${expected}`);
      const growth = peak - idle;
      log(`memory, ${label}: idle ${mb(idle)}, peak ${mb(peak)} (+${mb(growth)}), ${mb(upstream.listBytes)} in, ${mb(fetched.bytes)} out in ${ms(fetched.endAt - fetched.started)}`);
      rows.push({
        target: 5,
        scenario: `Memory: GET /containers/json of ${options.containers.toLocaleString('en-US')} containers (${mb(upstream.listBytes)} in, ${mb(fetched.bytes)} out), ${label}: peak RSS`,
        baseline: `idle RSS ${mb(idle)}`,
        sieve: `peak RSS ${mb(peak)}`,
        ratio: `+${mb(growth)}`,
        bar: '< +40 MB',
        verdict: verdict(growth < 40 * 1024 * 1024),
        data: { idleBytes: idle, peakBytes: peak, listBytes: upstream.listBytes, outBytes: fetched.bytes, seconds: (fetched.endAt - fetched.started) / 1000 },
      });
    }
    return rows;
  } finally {
    await sieve.stop();
    await upstream.stop();
  }
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
        target: 5,
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
