// Load from autocannon, on loopback only, bounded in count and in time. Latencies are taken from autocannon's
// per-response event (fractional milliseconds), not from its histogram, which keeps whole milliseconds only:
// the bars here are fractions of a millisecond.
import autocannon from 'autocannon';

export interface LoadOptions {
  /** `http://127.0.0.1:port`: anything else is refused. */
  url: string;
  /** Paths, requested in turn by every connection. */
  paths: string[];
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  connections: number;
  /** Stop after this many requests... */
  amount?: number;
  /** ...or after this many seconds, whichever comes first. Always set: no load runs unbounded. */
  maxSeconds: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  /** Responses per second. */
  rps: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  non2xx: number;
  errors: number;
  bytes: number;
}

const MAX_SAMPLES = 2_000_000;

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const at = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[at]!;
}

export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

export function assertLoopback(url: string): void {
  const { hostname, protocol } = new URL(url);
  if (protocol !== 'http:' || hostname !== '127.0.0.1') throw new Error(`bench: refusing to send load to ${url}: loopback only`);
}

export function load(options: LoadOptions): Promise<LoadResult> {
  assertLoopback(options.url);
  const samples = new Float64Array(MAX_SAMPLES);
  let count = 0;
  let bytes = 0;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        ...(options.amount === undefined ? { duration: options.maxSeconds } : { amount: options.amount }),
        requests: options.paths.map((path) => ({ method: options.method ?? 'GET', path, ...(options.headers === undefined ? {} : { headers: options.headers }) })),
        timeout: 30,
      },
      (error, result) => {
        clearTimeout(guard);
        if (error) {
          reject(error);
          return;
        }
        const seconds = (performance.now() - started) / 1000;
        const sorted = samples.subarray(0, count).sort();
        resolve({
          requests: count,
          seconds,
          rps: count / seconds,
          p50: quantile(sorted, 0.5),
          p90: quantile(sorted, 0.9),
          p99: quantile(sorted, 0.99),
          non2xx: result.non2xx,
          errors: result.errors + result.timeouts,
          bytes,
        });
      },
    );
    // autocannon's `amount` has no time limit of its own.
    const guard = setTimeout(() => instance.stop(), options.maxSeconds * 1000);
    instance.on('response', (_client, statusCode, resBytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300 && count < MAX_SAMPLES) samples[count++] = responseTime;
      bytes += resBytes;
    });
  });
}
