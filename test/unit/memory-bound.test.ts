// Issue 13, target 1, as a test so that it cannot regress: while docker-sieve (dist/server.js, started as the bin
// starts it) streams a 50,000-container list of about 100 MB, its peak RSS stays within 16 MB of its idle RSS, at
// 10% and at 50% visible, for a fast and for a slow (25 MB/s) client, with a CPU-bound neighbour spinning beside
// it. The same measurement as `npm run bench` (bench/scenarios/memory.ts), without the cases lacking a neighbour.
// Everything is on loopback; each case is a fresh process.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describePeakCase, measurePeaks, PEAK_OVER_IDLE_BYTES, type PeakCase } from '../../bench/scenarios/memory.js';

const built = existsSync(new URL('../../dist/server.js', import.meta.url));
const CASES: PeakCase[] = [
  { visibility: '10%', bytesPerSecond: undefined, neighbour: true },
  { visibility: '10%', bytesPerSecond: 25e6, neighbour: true },
  { visibility: '50%', bytesPerSecond: undefined, neighbour: true },
  { visibility: '50%', bytesPerSecond: 25e6, neighbour: true },
];

describe.skipIf(process.platform !== 'linux')('memory bound (Linux: /proc)', () => {
  it(
    'peak RSS while streaming 50,000 containers stays within idle + 16 MB',
    async () => {
      expect(built, 'dist/server.js is missing: `npm test` builds it first (npm run build)').toBe(true);
      const measured = await measurePeaks(50_000, CASES, { maxSeconds: 60 });
      const report = measured.map((m) => `${describePeakCase(m)}: idle ${(m.idleBytes / 2 ** 20).toFixed(1)} MB, +${((m.peakBytes - m.idleBytes) / 2 ** 20).toFixed(1)} MB`);
      expect(measured).toHaveLength(CASES.length);
      for (const m of measured) {
        expect(m.peakBytes - m.idleBytes, report.join('\n')).toBeLessThanOrEqual(PEAK_OVER_IDLE_BYTES);
        // The list really went through, filtered: 9 MB out at 10%, 46 MB at 50%, of about 100 MB in.
        expect(m.outBytes).toBeGreaterThan(m.listBytes / (m.visibility === '10%' ? 20 : 4));
      }
    },
    180_000,
  );
});
