// Requests through docker-sieve against the same requests straight to its upstream and through reference proxies
// (a minimal Node.js proxy, bare-proxy-child.ts; HAProxy as one more hop), A/B interleaved round by round (the
// order turned around every round), medians over the rounds. Issue 13's targets 3 and 4 are ratios to the
// references: CPU time per request (/proc/PID/stat, so it holds on a shared machine), throughput, latency.
import { load, median, type LoadOptions, type LoadResult } from '../support/load.js';
import { cpuSeconds } from '../support/proc.js';
import { ms, perSecond, times, verdict, type Row } from '../support/report.js';

export interface Pair {
  /** The upstream itself: the static upstream or HAProxy. */
  baseline: string;
  sieve: string;
  /** Reference proxies in front of the same upstream: label → URL. */
  references?: Record<string, string>;
  /**
   * Process IDs by side (`baseline`, `sieve`, or a reference's label): each round of such a side also measures
   * the CPU time (user + system, /proc/PID/stat) its process spent per request.
   */
  pids?: Record<string, number>;
}

export interface Side {
  results: LoadResult[];
  /** Medians over the rounds. */
  p50: number;
  rps: number;
  /** Microseconds of the process's CPU time per request, median over the rounds; NaN without a pid. */
  cpuUs: number;
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
  const cpu = new Map<string, number[]>(sides.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, url] of round % 2 === 0 ? sides : [...sides].reverse()) {
      const pid = pair.pids?.[name];
      const before = pid === undefined ? 0 : cpuSeconds(pid);
      const result = await load({ ...shape, url });
      if (pid !== undefined) cpu.get(name)!.push(((cpuSeconds(pid) - before) / Math.max(result.requests + result.non2xx, 1)) * 1e6);
      if (result.errors > 0 || result.non2xx > 0) {
        throw new Error(`${name} ${shape.paths[0]}: ${result.errors} errors and ${result.non2xx} non-2xx answers`);
      }
      results.get(name)!.push(result);
    }
  }
  const side = (name: string): Side => {
    const list = results.get(name)!;
    const cpuUs = cpu.get(name)!;
    return { results: list, p50: median(list.map((r) => r.p50)), rps: median(list.map((r) => r.rps)), cpuUs: cpuUs.length === 0 ? NaN : median(cpuUs) };
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

function us(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} µs` : 'n/a';
}

/** Summary of the CPU per request of every side that has a pid. */
function cpuSummary(c: Comparison): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, side] of [['baseline', c.baseline], ['sieve', c.sieve], ...Object.entries(c.references)] as Array<[string, Side]>) {
    if (Number.isFinite(side.cpuUs)) out[name] = side.cpuUs;
  }
  return out;
}

export interface ListLatencyOptions {
  label: string;
  /** Where the baseline goes: "HAProxy" or "the static upstream". */
  upstreamName: string;
  path: string;
  amount: number;
  rounds: number;
  maxSeconds: number;
  /**
   * Issue 13, target 3: the reference (a label of `pair.references`) that runs the same filter in a minimal
   * Node.js proxy; docker-sieve's median latency must be within `bar`× of it.
   */
  sameFilter?: { label: string; bar: number };
}

/** GET /containers/json, one connection: median latency through docker-sieve against the upstream alone. */
export async function listLatency(pair: Pair, options: ListLatencyOptions): Promise<Row[]> {
  const c = await compare(pair, { paths: [options.path], connections: 1, amount: options.amount, maxSeconds: options.maxSeconds }, options.rounds);
  const ratio = c.sieve.p50 / c.baseline.p50;
  const rows: Row[] = [];
  if (options.sameFilter !== undefined) {
    const ref = c.references[options.sameFilter.label]!;
    const against = c.sieve.p50 / ref.p50;
    rows.push({
      target: '13.3',
      scenario: `${options.label}: median latency at 1 connection against ${options.sameFilter.label}, in the same rounds (CPU per request for context)`,
      baseline: `${ms(ref.p50)} (${us(ref.cpuUs)} CPU)`,
      sieve: `${ms(c.sieve.p50)} (${us(c.sieve.cpuUs)} CPU)`,
      ratio: `${times(against)} (CPU ${times(c.sieve.cpuUs / ref.cpuUs)})`,
      bar: `≤ ${options.sameFilter.bar}×`,
      verdict: verdict(against <= options.sameFilter.bar),
      data: { cpuUs: cpuSummary(c) },
    });
  }
  rows.push(
    {
      scenario: `${options.label}: median latency, 1 connection`,
      baseline: `${options.upstreamName} ${ms(c.baseline.p50)}`,
      sieve: ms(c.sieve.p50),
      ratio: times(ratio),
      bar: '—',
      verdict: 'info',
      data: summary(c),
    },
    ...Object.entries(c.references).map(
      ([label, side]): Row => ({
        scenario: `Reference for the row above: ${label} instead of docker-sieve`,
        baseline: `${options.upstreamName} ${ms(c.baseline.p50)}`,
        sieve: ms(side.p50),
        ratio: times(side.p50 / c.baseline.p50),
        bar: '—',
        verdict: 'info',
      }),
    ),
  );
  return rows;
}

export interface PassThroughOptions {
  upstreamName: string;
  rounds: number;
  seconds: number;
  latencyAmount: number;
  /**
   * Issue 13, targets 3 and 4: the label of the minimal Node.js proxy among `pair.references` (and HAProxy's,
   * if it runs) whose CPU per request and throughput docker-sieve is held to on /_ping at 32 connections.
   * Without it the rows are figures only.
   */
  cost?: { bareLabel: string; haproxyLabel?: string };
}

/** GET /_ping and GET /version: throughput at 32 connections, added median latency at 1 and at 32, CPU per request. */
export async function passThrough(pair: Pair, options: PassThroughOptions, log: (line: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  for (const path of ['/_ping', '/v1.41/version']) {
    const heavy = await compare(pair, { paths: [path], connections: 32, maxSeconds: options.seconds }, options.rounds, { paths: [path], connections: 32, maxSeconds: 1 });
    const light = await compare(pair, { paths: [path], connections: 1, amount: options.latencyAmount, maxSeconds: options.seconds * 2 }, options.rounds);
    log(`pass-through ${path} via ${options.upstreamName}: ${Math.round(heavy.baseline.rps)} → ${Math.round(heavy.sieve.rps)} req/s, ${us(heavy.sieve.cpuUs)} CPU per request; p50 c=1 ${light.baseline.p50.toFixed(3)} → ${light.sieve.p50.toFixed(3)} ms; CPU ${JSON.stringify(cpuSummary(heavy))}`);
    const bare = options.cost === undefined ? undefined : heavy.references[options.cost.bareLabel];
    if (bare !== undefined && path === '/_ping') {
      const cpuRatio = heavy.sieve.cpuUs / bare.cpuUs;
      const rpsRatio = heavy.sieve.rps / bare.rps;
      rows.push(
        {
          target: '13.3',
          scenario: `Pass-through GET ${path}, 32 connections (via ${options.upstreamName}): docker-sieve's CPU time per request against ${options.cost!.bareLabel}'s, same rounds`,
          baseline: us(bare.cpuUs),
          sieve: us(heavy.sieve.cpuUs),
          ratio: times(cpuRatio),
          bar: '≤ 1.10×',
          verdict: verdict(cpuRatio <= 1.1),
          data: { cpuUs: cpuSummary(heavy) },
        },
        {
          target: '13.3',
          scenario: `Pass-through GET ${path}, 32 connections (via ${options.upstreamName}): docker-sieve's throughput against ${options.cost!.bareLabel}'s, same rounds`,
          baseline: perSecond(bare.rps),
          sieve: perSecond(heavy.sieve.rps),
          ratio: times(rpsRatio),
          bar: '≥ 0.95×',
          verdict: verdict(rpsRatio >= 0.95),
        },
      );
      const haproxy = options.cost!.haproxyLabel === undefined ? undefined : heavy.references[options.cost!.haproxyLabel];
      if (haproxy !== undefined) {
        rows.push({
          target: '13.4',
          scenario: `Pass-through GET ${path}, 32 connections (via ${options.upstreamName}): CPU time per request of one more hop, C against Node.js (${options.cost!.haproxyLabel}; ${options.cost!.bareLabel}; docker-sieve)`,
          baseline: `HAProxy ${us(haproxy.cpuUs)}`,
          sieve: `minimal Node.js proxy ${us(bare.cpuUs)}; docker-sieve ${us(heavy.sieve.cpuUs)}`,
          ratio: `${times(bare.cpuUs / haproxy.cpuUs)}; ${times(heavy.sieve.cpuUs / haproxy.cpuUs)} of HAProxy`,
          bar: '—',
          verdict: 'info',
          data: { cpuUs: cpuSummary(heavy), rps: Object.fromEntries(Object.entries(heavy.references).map(([k, v]) => [k, v.rps])) },
        });
      }
    }
    const ratio = heavy.sieve.rps / heavy.baseline.rps;
    rows.push({
      scenario: `Pass-through GET ${path}, 32 connections: throughput (via ${options.upstreamName})`,
      baseline: `${options.upstreamName} ${perSecond(heavy.baseline.rps)}`,
      sieve: perSecond(heavy.sieve.rps),
      ratio: times(ratio),
      bar: '—',
      verdict: 'info',
      data: summary(heavy),
    });
    for (const [connections, c] of [
      [1, light],
      [32, heavy],
    ] as const) {
      const added = c.sieve.p50 - c.baseline.p50;
      rows.push({
        scenario: `Pass-through GET ${path}, ${connections} connection${connections === 1 ? '' : 's'}: added median latency (via ${options.upstreamName})`,
        baseline: `${options.upstreamName} ${ms(c.baseline.p50)}`,
        sieve: ms(c.sieve.p50),
        ratio: signedMs(added),
        bar: '—',
        verdict: 'info',
        ...(connections === 1 ? { data: summary(c) } : {}),
      });
    }
    for (const [label, side] of Object.entries(heavy.references)) {
      const ref = light.references[label]!;
      rows.push({
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
 * inspect by full ID. Against (issue 13, target 3) the same inspects through a docker-sieve with no filters,
 * which forwards them as they came (its own pass-through), and, for context, straight to the static upstream.
 * Its lookups (inspects by name) are counted over the whole time it serves, warm-up included.
 */
export async function gate(pair: Pair & { passThrough: string }, options: GateOptions, log: (line: string) => void): Promise<Row[]> {
  const paths = options.names.map((name) => `/containers/${name}/json`);
  const before = await options.lookups();
  const started = performance.now();
  // Every side marks its requests, so that only docker-sieve's own lookups are counted upstream.
  const headers = { 'x-bench-client': '1' };
  // Warm the cache: one request per container.
  await load({ url: pair.sieve, paths, headers, connections: 1, amount: paths.length, maxSeconds: 10 });
  const OWN = "docker-sieve's own pass-through (no filters)";
  const c = await compare(
    { baseline: pair.baseline, sieve: pair.sieve, references: { [OWN]: pair.passThrough } },
    { paths, headers, connections: 1, amount: options.amount, maxSeconds: 20 },
    options.rounds,
  );
  const own = c.references[OWN]!;
  const elapsed = (performance.now() - started) / 1000;
  const lookups = (await options.lookups()) - before;
  const windows = Math.floor(elapsed / options.ttlSeconds) + 1;
  const allowed = options.names.length * windows;
  const perContainerPerTtl = lookups / allowed;
  const added = c.sieve.p50 - c.baseline.p50;
  const overOwn = c.sieve.p50 - own.p50;
  const sieveRequests = c.sieve.results.reduce((n, r) => n + r.requests, 0) + paths.length;
  log(`gate: ${signedMs(overOwn)} over its own pass-through, ${signedMs(added)} over the upstream; ${lookups} lookups for ${options.names.length} containers over ${elapsed.toFixed(1)} s (TTL ${options.ttlSeconds} s)`);
  return [
    {
      target: '13.3',
      scenario: `Gate, GET /containers/{name}/json with a warm cache, ${options.names.length} containers in turn, 1 connection: added median latency over ${OWN}, same rounds`,
      baseline: `pass-through ${ms(own.p50)}`,
      sieve: `gated ${ms(c.sieve.p50)}`,
      ratio: signedMs(overOwn),
      bar: '≤ +0.05 ms',
      verdict: verdict(overOwn <= 0.05),
      data: summary(c),
    },
    {
      scenario: `Gate, as above: added median latency over the static upstream itself`,
      baseline: `static upstream ${ms(c.baseline.p50)}`,
      sieve: ms(c.sieve.p50),
      ratio: signedMs(added),
      bar: '—',
      verdict: 'info',
    },
    {
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
