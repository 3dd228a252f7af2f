// Targets 2, 3 and 4: requests through docker-sieve against the same requests straight to its upstream, A/B
// interleaved round by round (the order turned around every round), medians over the rounds. A reference
// proxy (a minimal Node.js proxy, see bare-proxy-child.ts) can run in the same rounds, for context.
import { load, median, type LoadOptions, type LoadResult } from '../support/load.js';
import { ms, perSecond, times, verdict, type Row } from '../support/report.js';

export interface Pair {
  /** The upstream itself: the static upstream or HAProxy. */
  baseline: string;
  sieve: string;
  /** Reference proxies in front of the same upstream: label → URL. */
  references?: Record<string, string>;
}

export interface Side {
  results: LoadResult[];
  /** Medians over the rounds. */
  p50: number;
  rps: number;
}

export interface Comparison {
  baseline: Side;
  sieve: Side;
  references: Record<string, Side>;
}

type Shape = Omit<LoadOptions, 'url'>;

/** Runs `shape` against every side, `rounds` times each, interleaved, after one warm-up run each. */
export async function compare(pair: Pair, shape: Shape, rounds: number, warmup: Shape = shape): Promise<Comparison> {
  const sides: Array<[string, string]> = [
    ['baseline', pair.baseline],
    ['sieve', pair.sieve],
    ...Object.entries(pair.references ?? {}),
  ];
  for (const [, url] of sides) await load({ ...warmup, url });
  const results = new Map<string, LoadResult[]>(sides.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, url] of round % 2 === 0 ? sides : [...sides].reverse()) {
      const result = await load({ ...shape, url });
      if (result.errors > 0 || result.non2xx > 0) {
        throw new Error(`${name} ${shape.paths[0]}: ${result.errors} errors and ${result.non2xx} non-2xx answers`);
      }
      results.get(name)!.push(result);
    }
  }
  const side = (name: string): Side => {
    const list = results.get(name)!;
    return { results: list, p50: median(list.map((r) => r.p50)), rps: median(list.map((r) => r.rps)) };
  };
  return {
    baseline: side('baseline'),
    sieve: side('sieve'),
    references: Object.fromEntries(Object.keys(pair.references ?? {}).map((label) => [label, side(label)])),
  };
}

function summary(c: Comparison): Record<string, unknown> {
  const pick = (r: LoadResult) => ({ requests: r.requests, rps: Math.round(r.rps), p50: r.p50, p90: r.p90, p99: r.p99 });
  return {
    baseline: c.baseline.results.map(pick),
    sieve: c.sieve.results.map(pick),
    ...Object.fromEntries(Object.entries(c.references).map(([label, s]) => [label, s.results.map(pick)])),
  };
}

function signedMs(value: number): string {
  return `${value >= 0 ? '+' : '−'}${ms(Math.abs(value))}`;
}

export interface ListLatencyOptions {
  target?: number;
  label: string;
  /** Where the baseline goes: "HAProxy" or "the static upstream". */
  upstreamName: string;
  bar?: number;
  path: string;
  amount: number;
  rounds: number;
  maxSeconds: number;
}

/** GET /containers/json, one connection: median latency through docker-sieve against the upstream alone. */
export async function listLatency(pair: Pair, options: ListLatencyOptions): Promise<Row[]> {
  const c = await compare(pair, { paths: [options.path], connections: 1, amount: options.amount, maxSeconds: options.maxSeconds }, options.rounds);
  const ratio = c.sieve.p50 / c.baseline.p50;
  return [
    {
      ...(options.target === undefined ? {} : { target: options.target }),
      scenario: `${options.label}: median latency, 1 connection`,
      baseline: `${options.upstreamName} ${ms(c.baseline.p50)}`,
      sieve: ms(c.sieve.p50),
      ratio: times(ratio),
      bar: options.bar === undefined ? '—' : `≤ ${options.bar}×`,
      verdict: options.bar === undefined ? 'info' : verdict(ratio <= options.bar),
      data: summary(c),
    },
    ...Object.entries(c.references).map(
      ([label, side]): Row => ({
        ...(options.target === undefined ? {} : { target: options.target }),
        scenario: `Reference for the row above: ${label} instead of docker-sieve`,
        baseline: `${options.upstreamName} ${ms(c.baseline.p50)}`,
        sieve: ms(side.p50),
        ratio: times(side.p50 / c.baseline.p50),
        bar: '—',
        verdict: 'info',
      }),
    ),
  ];
}

export interface PassThroughOptions {
  upstreamName: string;
  /** The throughput bar applies (target 3 names HAProxy). */
  throughputBar: boolean;
  /** The added-latency bar applies (target 3 names the static upstream). */
  latencyBar: boolean;
  rounds: number;
  seconds: number;
  latencyAmount: number;
}

/** GET /_ping and GET /version: throughput at 32 connections, added median latency at 1 and at 32. */
export async function passThrough(pair: Pair, options: PassThroughOptions, log: (line: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  for (const path of ['/_ping', '/v1.41/version']) {
    const heavy = await compare(pair, { paths: [path], connections: 32, maxSeconds: options.seconds }, options.rounds, { paths: [path], connections: 32, maxSeconds: 1 });
    const light = await compare(pair, { paths: [path], connections: 1, amount: options.latencyAmount, maxSeconds: options.seconds * 2 }, options.rounds);
    log(`pass-through ${path} via ${options.upstreamName}: ${Math.round(heavy.baseline.rps)} → ${Math.round(heavy.sieve.rps)} req/s; p50 c=1 ${light.baseline.p50.toFixed(3)} → ${light.sieve.p50.toFixed(3)} ms`);
    const ratio = heavy.sieve.rps / heavy.baseline.rps;
    rows.push({
      target: 3,
      scenario: `Pass-through GET ${path}, 32 connections: throughput (via ${options.upstreamName})`,
      baseline: `${options.upstreamName} ${perSecond(heavy.baseline.rps)}`,
      sieve: perSecond(heavy.sieve.rps),
      ratio: times(ratio),
      bar: options.throughputBar ? '≥ 0.7×' : '—',
      verdict: options.throughputBar ? verdict(ratio >= 0.7) : 'info',
      data: summary(heavy),
    });
    for (const [connections, c] of [
      [1, light],
      [32, heavy],
    ] as const) {
      const added = c.sieve.p50 - c.baseline.p50;
      rows.push({
        target: 3,
        scenario: `Pass-through GET ${path}, ${connections} connection${connections === 1 ? '' : 's'}: added median latency (via ${options.upstreamName})`,
        baseline: `${options.upstreamName} ${ms(c.baseline.p50)}`,
        sieve: ms(c.sieve.p50),
        ratio: signedMs(added),
        bar: options.latencyBar ? '< +0.3 ms' : '—',
        verdict: options.latencyBar ? verdict(added < 0.3) : 'info',
        ...(connections === 1 ? { data: summary(c) } : {}),
      });
    }
    for (const [label, side] of Object.entries(heavy.references)) {
      const ref = light.references[label]!;
      rows.push({
        target: 3,
        scenario: `Reference for GET ${path} via ${options.upstreamName}: ${label} instead of docker-sieve; throughput at 32 connections, added median latency at 1 and at 32`,
        baseline: `${perSecond(heavy.baseline.rps)}; ${ms(light.baseline.p50)}; ${ms(heavy.baseline.p50)}`,
        sieve: `${perSecond(side.rps)}; ${ms(ref.p50)}; ${ms(side.p50)}`,
        ratio: `${times(side.rps / heavy.baseline.rps)}; ${signedMs(ref.p50 - light.baseline.p50)}; ${signedMs(side.p50 - heavy.baseline.p50)}`,
        bar: '—',
        verdict: 'info',
      });
    }
  }
  return rows;
}

export interface GateOptions {
  /** Names of visible containers, requested in turn. */
  names: string[];
  ttlSeconds: number;
  rounds: number;
  amount: number;
  /** Upstream inspects by name (docker-sieve's lookups) so far. */
  lookups: () => Promise<number>;
}

/**
 * GET /containers/{name}/json with a warm cache: docker-sieve resolves the name from its cache and forwards the
 * inspect by full ID, against the same inspect straight to the static upstream. Its lookups (inspects by name)
 * are counted over the whole time it serves, warm-up included.
 */
export async function gate(pair: Pair, options: GateOptions, log: (line: string) => void): Promise<Row[]> {
  const paths = options.names.map((name) => `/containers/${name}/json`);
  const before = await options.lookups();
  const started = performance.now();
  // Both sides mark their requests, so that only docker-sieve's own lookups are counted upstream.
  const headers = { 'x-bench-client': '1' };
  // Warm the cache: one request per container.
  await load({ url: pair.sieve, paths, headers, connections: 1, amount: paths.length, maxSeconds: 10 });
  const c = await compare({ baseline: pair.baseline, sieve: pair.sieve }, { paths, headers, connections: 1, amount: options.amount, maxSeconds: 20 }, options.rounds);
  const elapsed = (performance.now() - started) / 1000;
  const lookups = (await options.lookups()) - before;
  const windows = Math.floor(elapsed / options.ttlSeconds) + 1;
  const allowed = options.names.length * windows;
  const perContainerPerTtl = lookups / allowed;
  const added = c.sieve.p50 - c.baseline.p50;
  const sieveRequests = c.sieve.results.reduce((n, r) => n + r.requests, 0) + paths.length;
  log(`gate: ${signedMs(added)}; ${lookups} lookups for ${options.names.length} containers over ${elapsed.toFixed(1)} s (TTL ${options.ttlSeconds} s)`);
  return [
    {
      target: 4,
      scenario: `Gate, GET /containers/{name}/json with a warm cache, ${options.names.length} containers in turn, 1 connection: added median latency`,
      baseline: `static upstream ${ms(c.baseline.p50)}`,
      sieve: ms(c.sieve.p50),
      ratio: signedMs(added),
      bar: '< +0.3 ms',
      verdict: verdict(added < 0.3),
      data: summary(c),
    },
    {
      target: 4,
      scenario: `Gate: upstream lookups (inspects by name), ${sieveRequests.toLocaleString('en-US')} requests over ${elapsed.toFixed(1)} s, CACHE_TTL=${options.ttlSeconds} s`,
      baseline: `${options.names.length} containers × ${windows} TTL window${windows === 1 ? '' : 's'} = ${allowed}`,
      sieve: `${lookups} lookups`,
      ratio: `${perContainerPerTtl.toFixed(2)} per container per TTL`,
      bar: '≤ 1',
      verdict: verdict(perContainerPerTtl <= 1),
      data: { lookups, allowed, elapsedSeconds: elapsed, requests: sieveRequests },
    },
  ];
}
