/**
 * The benchmark's paired windows are sized to the workload: a slow (relational) workload gets fewer, longer windows,
 * so each still holds enough requests for its ratio to mean something (bench/paired.ts).
 */
import { combine, type WindowResult, windowsFor } from '../../bench/paired.js';
import { percentile } from '../../bench/stats.js';
import { MIN_WINDOW_REQUESTS } from '../../bench/settings.js';

describe('paired windows sized to the workload', () => {
  it('keeps the configured windows when each holds enough requests (findOne, ~1,500 req/s)', () => {
    expect(windowsFor(6, 6, 1_500)).toBe(6);
  });

  it('takes fewer, longer windows for a slow workload, never under 2 and always whole ABBA blocks', () => {
    const relational = windowsFor(6, 6, 300); // 1,800 requests: 3 windows would fit, rounded down to 2
    expect(relational).toBe(2);
    expect((6 / relational) * 300).toBeGreaterThanOrEqual(MIN_WINDOW_REQUESTS);
    expect(windowsFor(6, 6, 50)).toBe(2);
    expect(windowsFor(6, 6, 0)).toBe(2);
    expect(windowsFor(6, 12, 400)).toBe(6 - (6 % 2)); // 8 fit, capped at 6
    expect(windowsFor(6, 6, 500)).toBe(4); // 5 fit: 4
  });
});

describe('paired latency percentiles', () => {
  const window = (latenciesMs: number[]): WindowResult => ({ requests: latenciesMs.length, durationS: 1, latenciesMs, errors: 0, non2xx: 0, cpuUs: 0 });

  it('takes p50 and p99 over every request of a side, not as the median of the windows\' percentiles', () => {
    // three windows of 100 requests: one slow window holds all of the side's slowest requests
    const fast = Array.from({ length: 100 }, (_, i) => 1 + i / 100);
    const slow = Array.from({ length: 100 }, (_, i) => 50 + i);
    const side = combine([window(fast), window(fast), window(slow)]);
    // pooled, nearest rank: the 297th of 300 sorted values is the slow window's 97th (50 + 96)
    expect(side.p99Ms).toBe(146);
    // the median of the windows' p99 (1.98, 1.98, 148) would have hidden the slow window
    expect(side.p50Ms).toBe(1.74); // the 150th of 300: both fast windows' 75th value
    expect(side.requests).toBe(300);
    expect(side.reqPerSec).toBe(100);
  });

  it('keeps sub-millisecond resolution and the nearest-rank definition', () => {
    expect(percentile([0.25, 0.5, 0.75, 1.25], 0.5)).toBe(0.5);
    expect(percentile([0.25, 0.5, 0.75, 1.25], 0.99)).toBe(1.25);
    expect(percentile([3.14159], 0.99)).toBe(3.14);
    expect(percentile([], 0.99)).toBeNaN();
  });
});
