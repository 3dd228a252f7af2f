// The soak script as a test: 100,000 mixed requests through the built docker-sieve process, RSS growth < 20 MB.
import { expect, it } from 'vitest';
import { runSoak } from '../../bench/soak.js';

it('100,000 mixed requests grow docker-sieve RSS by less than 20 MB', async () => {
  const result = await runSoak(100_000);
  console.log(`soak: ${result.requests} requests in ${result.seconds.toFixed(1)} s, RSS +${result.growthMb.toFixed(1)} MB`);
  expect(result.requests).toBe(100_000);
  expect(result.growthMb).toBeLessThan(20);
  // Known names come from the cache; fresh random refs are each looked up once.
  expect(result.statuses['200']! + result.statuses['404']!).toBe(100_000 + 5_000);
}, 300_000);
