import type { Measurement } from './measure.js';

export type Metric = 'reqPerSec' | 'p50Ms' | 'p99Ms' | 'cpuUsPerReq' | 'peakRssMb' | 'peakPgConnections';
export const METRICS: Metric[] = ['reqPerSec', 'p50Ms', 'p99Ms', 'cpuUsPerReq', 'peakRssMb', 'peakPgConnections'];

export function median(values: number[]): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Per scenario: the median of each metric over its repetitions. */
export function medians(measurements: Measurement[], scenario: string): Record<Metric, number> & { errors: number; reps: number } {
  const runs = measurements.filter((m) => m.scenario === scenario);
  const out = Object.fromEntries(METRICS.map((metric) => [metric, median(runs.map((m) => m[metric]))])) as Record<Metric, number>;
  return { ...out, errors: runs.reduce((sum, m) => sum + m.errors, 0), reps: runs.length };
}

/**
 * Median over repetitions of `scenario / reference` taken within the same repetition: each ratio pairs runs made
 * minutes apart, so a slow phase of the shared machine hits both sides of it.
 */
export function ratio(measurements: Measurement[], scenario: string, reference: string, metric: Metric): number {
  const ratios: number[] = [];
  for (const m of measurements.filter((x) => x.scenario === scenario)) {
    const ref = measurements.find((x) => x.scenario === reference && x.rep === m.rep);
    if (ref && ref[metric] > 0) ratios.push(m[metric] / ref[metric]);
  }
  return median(ratios);
}

/** Same-repetition difference `scenario - reference` (CPU µs per request, RSS MB), median over repetitions. */
export function delta(measurements: Measurement[], scenario: string, reference: string, metric: Metric): number {
  const deltas: number[] = [];
  for (const m of measurements.filter((x) => x.scenario === scenario)) {
    const ref = measurements.find((x) => x.scenario === reference && x.rep === m.rep);
    if (ref) deltas.push(m[metric] - ref[metric]);
  }
  return median(deltas);
}
