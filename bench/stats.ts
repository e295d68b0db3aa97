import type { Measurement } from './measure.js';
import type { PairedSide } from './paired.js';

export type Metric = 'reqPerSec' | 'p50Ms' | 'p99Ms' | 'cpuUsPerReq' | 'peakRssMb' | 'rssEndMb' | 'peakPgConnections' | 'pgBackendsMb' | 'pgBackendsPeakMb';
export const METRICS: Metric[] = ['reqPerSec', 'p50Ms', 'p99Ms', 'cpuUsPerReq', 'peakRssMb', 'rssEndMb', 'peakPgConnections', 'pgBackendsMb', 'pgBackendsPeakMb'];

/** A metric of one measurement; NaN when it was not measured (older result files, PostgreSQL memory not readable). */
export function valueOf(m: Measurement, metric: Metric): number {
  const value = m[metric];
  return typeof value === 'number' ? value : Number.NaN;
}

export function median(values: number[]): number {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The q-quantile (0 < q <= 1) of `values` by nearest rank, rounded to 0.01 ms; NaN when empty. Taken over a whole
 * side's requests (all its windows pooled), not as a median of per-window percentiles: at ~3,000 requests per
 * window, a window's p99 rests on its 30 slowest requests.
 */
export function percentile(values: readonly number[], q: number): number {
  if (!values.length) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return Math.round((sorted[rank - 1] as number) * 100) / 100;
}

/** Per scenario: the median of each metric over its repetitions. */
export function medians(measurements: Measurement[], scenario: string): Record<Metric, number> & { errors: number; reps: number } {
  const runs = measurements.filter((m) => m.scenario === scenario);
  const out = Object.fromEntries(METRICS.map((metric) => [metric, median(runs.map((m) => valueOf(m, metric)))])) as Record<Metric, number>;
  return { ...out, errors: runs.reduce((sum, m) => sum + m.errors, 0), reps: runs.length };
}

/** Metrics a paired measurement has for both sides. */
const PAIRED_METRICS = ['reqPerSec', 'p50Ms', 'p99Ms', 'cpuUsPerReq'] as const satisfies readonly (Metric & keyof PairedSide)[];
const isPairedMetric = (metric: Metric): metric is (typeof PAIRED_METRICS)[number] => (PAIRED_METRICS as readonly Metric[]).includes(metric);

/**
 * Both sides of one comparison in one repetition: from the scenario's paired windows when it was paired with this
 * reference (interleaved, see paired.ts), otherwise its own window and the reference's window of the same repetition.
 */
function sidesOf(measurements: Measurement[], m: Measurement, reference: string, metric: Metric): [number, number] | undefined {
  if (m.paired?.reference === reference && isPairedMetric(metric)) return [m.paired.scenario[metric], m.paired.baseline[metric]];
  const ref = measurements.find((x) => x.scenario === reference && x.rep === m.rep);
  return ref ? [valueOf(m, metric), valueOf(ref, metric)] : undefined;
}

/** `scenario / reference` of each repetition both ran in (paired windows when there are, see sidesOf). */
export function ratios(measurements: Measurement[], scenario: string, reference: string, metric: Metric): number[] {
  const out: number[] = [];
  for (const m of measurements.filter((x) => x.scenario === scenario)) {
    const sides = sidesOf(measurements, m, reference, metric);
    if (sides && sides[1] > 0 && Number.isFinite(sides[0])) out.push(sides[0] / sides[1]);
  }
  return out;
}

/**
 * Median over repetitions of `scenario / reference` taken within the same repetition: each ratio pairs runs made
 * minutes apart, so a slow phase of the shared machine hits both sides of it.
 */
export function ratio(measurements: Measurement[], scenario: string, reference: string, metric: Metric): number {
  return median(ratios(measurements, scenario, reference, metric));
}

/** Same-repetition difference `scenario - reference` (CPU µs per request, RSS MB), median over repetitions. */
export function delta(measurements: Measurement[], scenario: string, reference: string, metric: Metric): number {
  const deltas: number[] = [];
  for (const m of measurements.filter((x) => x.scenario === scenario)) {
    const sides = sidesOf(measurements, m, reference, metric);
    if (sides) deltas.push(sides[0] - sides[1]);
  }
  return median(deltas);
}

/** Coefficient of variation (sample standard deviation / mean); NaN for fewer than two values. */
export function coefficientOfVariation(values: number[]): number {
  if (values.length < 2) return Number.NaN;
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (values.length - 1);
  return mean > 0 ? Math.sqrt(variance) / mean : Number.NaN;
}

/** How far the repetitions of one comparison agree: see noiseOf. */
export interface Spread {
  /** The per-repetition req/s ratios to the reference. */
  ratios: number[];
  cv: number;
  /** Highest ratio / lowest. */
  maxOverMin: number;
  /** Not a result: fewer than two repetitions (the spread is unknown), or cv above the threshold. */
  noisy: boolean;
  /** Why, for the report (empty when not noisy). */
  reason: string;
}

/** A measured window with fewer completed requests than this says nothing (a stalled machine, a window too short). */
export const MIN_REQUESTS = 200;

/**
 * The noise rule of the report: a comparison is "noisy, not a result" when its per-repetition req/s ratios have a
 * coefficient of variation above `threshold` (settings' noiseCv, 10% by default), when it ran in fewer than two
 * repetitions, or when a repetition of either side completed fewer than MIN_REQUESTS requests. A scenario compared
 * with itself (its own baseline) is noisy only for that last reason.
 */
export function noiseOf(measurements: Measurement[], scenario: string, reference: string, threshold: number): Spread {
  const values = ratios(measurements, scenario, reference, 'reqPerSec');
  const cv = scenario === reference ? 0 : coefficientOfVariation(values);
  const maxOverMin = values.length ? Math.max(...values) / Math.min(...values) : Number.NaN;
  const fewest = Math.min(
    ...measurements
      .filter((m) => m.scenario === scenario || m.scenario === reference)
      .flatMap((m) => [m.requests, ...(m.paired?.reference === reference ? [m.paired.scenario.requests, m.paired.baseline.requests] : [])]),
  );
  if (fewest < MIN_REQUESTS) return { ratios: values, cv, maxOverMin, noisy: true, reason: `a repetition completed ${fewest} requests (< ${MIN_REQUESTS})` };
  if (scenario === reference) return { ratios: values, cv, maxOverMin, noisy: false, reason: '' };
  if (values.length < 2) return { ratios: values, cv, maxOverMin, noisy: true, reason: `${values.length} repetition(s): spread unknown` };
  if (cv > threshold) return { ratios: values, cv, maxOverMin, noisy: true, reason: `CV ${(cv * 100).toFixed(0)}% > ${(threshold * 100).toFixed(0)}%` };
  return { ratios: values, cv, maxOverMin, noisy: false, reason: '' };
}
