// Target 6: 10,000 events per second through the events filter, lag measured per event (the time it is read
// by the client, against the `timeNano` the upstream wrote into it when it sent it), through docker-sieve and
// straight from the upstream, interleaved.
import { request } from 'undici';
import { startSieveProcess } from '../support/sieve-process.js';
import { startUpstreamProcess, type UpstreamProcess } from '../support/upstream-process.js';
import { assertLoopback, quantile } from '../support/load.js';
import { ms, verdict, type Row } from '../support/report.js';

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));
const epochMs = () => performance.timeOrigin + performance.now();

interface Watched {
  sent: number;
  received: number;
  hidden: number;
  lags: Float64Array;
}

/** Opens /events at `url`, has the upstream send `rate`/s for `seconds`, and reads until it has all settled. */
async function watch(url: string, upstream: UpstreamProcess, rate: number, seconds: number): Promise<Watched> {
  assertLoopback(url);
  const abort = new AbortController();
  const response = await request(`${url}/v1.41/events`, { signal: abort.signal });
  if (response.statusCode !== 200) throw new Error(`events answered ${response.statusCode}`);
  const lags = new Float64Array(Math.ceil(rate * seconds) + 16);
  let received = 0;
  let hidden = 0;
  let rest = '';
  const reading = (async () => {
    try {
      for await (const chunk of response.body) {
        const now = epochMs();
        rest += (chunk as Buffer).toString('utf8');
        let newline: number;
        while ((newline = rest.indexOf('\n')) !== -1) {
          const line = rest.slice(0, newline);
          rest = rest.slice(newline + 1);
          const event = JSON.parse(line) as { timeNano: number; Actor: { Attributes: { name: string } } };
          if (!event.Actor.Attributes.name.startsWith('web-')) hidden++;
          if (received < lags.length) lags[received] = now - event.timeNano / 1e6;
          received++;
        }
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  // Let the stream settle (headers flushed, docker-sieve's upstream request open) before the events start.
  await sleep(200);
  const sent = await upstream.broadcastEvents(rate, seconds);
  await sleep(500);
  abort.abort();
  await reading;
  return { sent, received, hidden, lags: lags.subarray(0, Math.min(received, lags.length)).sort() };
}

export interface EventsOptions {
  rate: number;
  seconds: number;
  rounds: number;
}

export async function eventsScenario(options: EventsOptions, log: (line: string) => void): Promise<Row[]> {
  const upstream = await startUpstreamProcess({ containers: 50, events: 'live' });
  const sieve = await startSieveProcess({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'info' });
  try {
    // Warm-up, not counted: one second at the same rate each way (JIT, buffers, the resolver's event watch).
    await watch(upstream.url, upstream, options.rate, 1);
    await watch(sieve.url, upstream, options.rate, 1);
    const results: Record<'direct' | 'sieve', Watched[]> = { direct: [], sieve: [] };
    for (let round = 0; round < options.rounds; round++) {
      const sides: Array<['direct' | 'sieve', string]> = [
        ['direct', upstream.url],
        ['sieve', sieve.url],
      ];
      if (round % 2 === 1) sides.reverse();
      for (const [side, url] of sides) results[side].push(await watch(url, upstream, options.rate, options.seconds));
    }
    const worst = (list: Watched[]) => {
      const max = Math.max(...list.map((w) => w.lags.at(-1) ?? Infinity));
      const p99 = Math.max(...list.map((w) => quantile(w.lags, 0.99)));
      const p50 = Math.max(...list.map((w) => quantile(w.lags, 0.5)));
      return { max, p99, p50 };
    };
    const direct = worst(results.direct);
    const through = worst(results.sieve);
    // Events alternate between web-N (visible) and db-N (hidden): exactly half must come through, none hidden.
    const complete = results.sieve.every((w) => w.received === Math.floor((w.sent + 1) / 2) && w.hidden === 0);
    const directComplete = results.direct.every((w) => w.received === w.sent);
    const delivered = results.sieve.map((w) => `${w.received}/${w.sent}`).join(', ');
    log(`events: direct max lag ${ms(direct.max)} (all delivered: ${directComplete}); through docker-sieve max ${ms(through.max)}, p99 ${ms(through.p99)}, p50 ${ms(through.p50)}; kept/sent ${delivered}`);
    const total = options.rate * options.seconds;
    return [
      {
        target: '5.6',
        scenario: `Events: ${options.rate.toLocaleString('en-US')}/s for ${options.seconds} s (${total.toLocaleString('en-US')} events, half about hidden containers), ${options.rounds} round${options.rounds === 1 ? '' : 's'} after a 1 s warm-up: worst lag of any event`,
        baseline: `upstream alone: max ${ms(direct.max)}`,
        sieve: `max ${ms(through.max)}, p99 ${ms(through.p99)}, p50 ${ms(through.p50)}; ${complete ? 'every visible event, no hidden one' : `INCOMPLETE (${delivered})`}`,
        ratio: `${through.max >= direct.max ? '+' : '−'}${ms(Math.abs(through.max - direct.max))}`,
        bar: '< 100 ms, none lost',
        verdict: verdict(through.max < 100 && complete && directComplete),
        data: {
          rate: options.rate,
          seconds: options.seconds,
          direct: results.direct.map((w) => ({ sent: w.sent, received: w.received, p50: quantile(w.lags, 0.5), p99: quantile(w.lags, 0.99), max: w.lags.at(-1) })),
          sieve: results.sieve.map((w) => ({ sent: w.sent, received: w.received, hidden: w.hidden, p50: quantile(w.lags, 0.5), p99: quantile(w.lags, 0.99), max: w.lags.at(-1) })),
        },
      },
    ];
  } finally {
    await sieve.stop();
    await upstream.stop();
  }
}
