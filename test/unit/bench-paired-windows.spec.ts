/**
 * The benchmark's paired windows are sized to the workload: a slow (relational) workload gets fewer, longer windows,
 * so each still holds enough requests for its ratio to mean something (bench/paired.ts).
 */
import { windowsFor } from '../../bench/paired.js';
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
