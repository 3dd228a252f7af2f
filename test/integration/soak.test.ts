// The soak script as a test: 100,000 mixed requests through the built docker-sieve process, after 100,000 more
// that bring it to its steady state (the resolver's caches at their bound, malloc's main heap at its size). Read
// after a full GC at both ends, RSS grows by less than 20 MB and the JS heap by less than 8 MB: a leak of 200
// bytes a request fails the first, one of 80 bytes in JavaScript the second.
import { expect, it } from 'vitest';
import { runSoak } from '../../bench/soak.js';

it('100,000 mixed requests grow docker-sieve RSS by less than 20 MB and its JS heap by less than 8 MB, after a full GC', async () => {
  const result = await runSoak(100_000);
  console.log(
    `soak: ${result.requests} requests in ${result.seconds.toFixed(1)} s, RSS +${result.growthMb.toFixed(1)} MB, ` +
      `JS heap ${result.heapBeforeMb.toFixed(1)} → ${result.heapAfterMb.toFixed(1)} MB, ` +
      `growth by region (MB): brk ${result.growthByRegionMb.brk.toFixed(1)}, anonymous ${result.growthByRegionMb.anonymous.toFixed(1)}, file ${result.growthByRegionMb.file.toFixed(1)}`,
  );
  expect(result.requests).toBe(100_000);
  expect(result.growthMb).toBeLessThan(20);
  expect(result.heapAfterMb - result.heapBeforeMb).toBeLessThan(8);
  // Known names come from the cache; fresh random refs are each looked up once.
  expect(result.statuses['200']! + result.statuses['404']!).toBe(100_000 + 100_000);
}, 450_000);
