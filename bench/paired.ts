/**
 * Paired measurement: a scenario and its baseline measured in interleaved short windows (reference, scenario,
 * scenario, reference, reference, scenario...: ABBA blocks), so both sides see the same phases of a shared machine.
 * Measured one after the other, minutes apart, a ratio carries the host's drift (on this machine the same server
 * measured 940 and 2,020 req/s in two repetitions); interleaved at a second's grain, most of that drift cancels.
 */
import { runLoad, type LoadOptions } from './load.js';
import type { ServerProcess } from './server-process.js';
import { MIN_WINDOW_REQUESTS } from './settings.js';
import { percentile } from './stats.js';

/** One side's figures over its windows of a paired measurement. */
export interface PairedSide {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  requests: number;
  errors: number;
  non2xx: number;
}

export interface PairedMeasurement {
  /** The scenario id of the other side. */
  reference: string;
  windows: number;
  windowS: number;
  scenario: PairedSide;
  baseline: PairedSide;
  /** scenario / reference req/s of each window pair (the spread within this repetition). */
  windowRatios: number[];
}

/**
 * application_name of a reference server's connections (PGAPPNAME): the scenario's PG connection and memory probes
 * leave them out, since a reference idles on the same database as scenarios 1 and 3 while they are measured.
 */
export const PAIRED_REFERENCE_APP = 'bench-paired-reference';

/**
 * How many windows per side for a workload served at `reqPerSec` (as measured in its warm-up): at most `maxWindows`,
 * fewer and longer when a window would hold under MIN_WINDOW_REQUESTS; even (whole ABBA blocks), at least 2.
 */
export function windowsFor(maxWindows: number, durationS: number, reqPerSec: number): number {
  const fit = Math.floor((durationS * reqPerSec) / MIN_WINDOW_REQUESTS);
  const even = Math.min(maxWindows, fit) - (Math.min(maxWindows, fit) % 2);
  return Math.max(2, even);
}

/** A server and how to load it (its own tenants and workload). */
export interface LoadedServer {
  server: ServerProcess;
  load: Omit<LoadOptions, 'durationS'>;
}

export interface WindowResult {
  requests: number;
  durationS: number;
  latenciesMs: number[];
  errors: number;
  non2xx: number;
  cpuUs: number;
}

/** `windows` windows of `windowS` seconds per side, in ABBA order (both servers booted and warmed alike before). */
export async function measurePaired(
  scenario: LoadedServer,
  reference: LoadedServer & { id: string },
  options: { windows: number; windowS: number },
): Promise<PairedMeasurement> {
  const sides: { scenario: WindowResult[]; reference: WindowResult[] } = { scenario: [], reference: [] };
  for (let w = 0; w < options.windows; w++) {
    const order = w % 2 === 0 ? (['reference', 'scenario'] as const) : (['scenario', 'reference'] as const);
    for (const side of order) {
      const target = side === 'scenario' ? scenario : reference;
      sides[side].push(await measureWindow(target, options.windowS));
    }
  }
  const windowRatios = sides.scenario.map((s, i) => {
    const r = sides.reference[i] as WindowResult;
    return r.requests > 0 ? s.requests / s.durationS / (r.requests / r.durationS) : Number.NaN;
  });
  return {
    reference: reference.id,
    windows: options.windows,
    windowS: options.windowS,
    scenario: combine(sides.scenario),
    baseline: combine(sides.reference),
    windowRatios: windowRatios.map((r) => Math.round(r * 1000) / 1000),
  };
}

async function measureWindow(target: LoadedServer, durationS: number): Promise<WindowResult> {
  const before = await target.server.usage();
  const result = await runLoad({ ...target.load, durationS });
  const after = await target.server.usage();
  return { requests: result.requests, durationS: result.durationS, latenciesMs: result.latenciesMs, errors: result.errors, non2xx: result.non2xx, cpuUs: after.cpuUs - before.cpuUs };
}

/** Throughput, CPU and latency percentiles over all windows of one side (every request of the side pooled). */
export function combine(windows: readonly WindowResult[]): PairedSide {
  const requests = windows.reduce((sum, w) => sum + w.requests, 0);
  const durationS = windows.reduce((sum, w) => sum + w.durationS, 0);
  const cpuUs = windows.reduce((sum, w) => sum + w.cpuUs, 0);
  const latencies = windows.flatMap((w) => w.latenciesMs);
  return {
    reqPerSec: Math.round((durationS > 0 ? requests / durationS : 0) * 10) / 10,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    cpuUsPerReq: Math.round((requests ? cpuUs / requests : 0) * 10) / 10,
    requests,
    errors: windows.reduce((sum, w) => sum + w.errors, 0),
    non2xx: windows.reduce((sum, w) => sum + w.non2xx, 0),
  };
}
