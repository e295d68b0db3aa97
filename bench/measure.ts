import type pg from 'pg';
import { backendPids, backendsRssAnonKb } from './databases.js';
import { type LoadOptions, runLoad } from './load.js';
import type { BenchDatabases, Scenario } from './scenarios.js';
import { ServerProcess, cpuProfileArgs } from './server-process.js';
import type { BenchSettings } from './settings.js';
import { verifyScenario } from './verify.js';
import { type PairedMeasurement, type PairedSide, measurePaired, windowsFor } from './paired.js';
import { startReference } from './reference-servers.js';

/** Every figure of one scenario in one repetition. Fields added later are optional (older latest.json files). */
export interface Measurement {
  scenario: string;
  rep: number;
  /** Position in this repetition's order (alternation is visible in the JSON). */
  order: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** Server CPU (user + system, all threads) during the measured window, per completed request. */
  cpuUsPerReq: number;
  /** Peak RSS of the server process over its life (boot, warm-up and measurement). */
  peakRssMb: number;
  /** RSS of the server process at the end of the measured window. */
  rssEndMb?: number;
  /** Most client connections seen on the scenario's databases (sampled every 100 ms, warm-up included). */
  peakPgConnections: number;
  /**
   * PostgreSQL's own memory for this server: the private resident memory (RssAnon) of the scenario's client backends
   * summed, at the end of the measured window and at its highest (sampled every 500 ms, warm-up included). null
   * when the backends' /proc entries cannot be read (PostgreSQL on another machine).
   */
  pgBackendsMb?: number | null;
  pgBackendsPeakMb?: number | null;
  bootMs: number;
  /**
   * This scenario and its reference (the plain @mikro-orm/nestjs baseline of its workload and adapter) measured in
   * interleaved windows (see paired.ts): the figures above are this scenario's side of them, and the report's ratios
   * against that reference come from both sides.
   */
  paired?: PairedMeasurement;
}

const PROBE_INTERVAL_MS = 100;
/** Every this many connection probes, the backends' memory is read too. */
const MEMORY_EVERY = 5;

/** Starts the scenario's server, checks its answers, warms it up, measures one bounded window, and stops it. */
export async function measureScenario(
  scenario: Scenario,
  databases: BenchDatabases,
  settings: Pick<BenchSettings, 'connections' | 'warmupS' | 'durationS'> & Partial<Pick<BenchSettings, 'pairedWindows'>>,
  probe: pg.Client,
  position: { rep: number; order: number },
  options: { pgMemory: boolean; reference?: Scenario },
): Promise<Measurement> {
  const windows = options.reference ? (settings.pairedWindows ?? 0) : 0;
  const booting = performance.now();
  // the reference boots alongside (bootMs is then a boot under a concurrent one): fresh and warmed like the scenario
  const [started, referenceStarted] = await Promise.allSettled([
    ServerProcess.start(scenario.spec(databases), cpuProfileArgs(scenario)),
    options.reference && windows > 0 ? startReference(options.reference, databases, settings.connections) : undefined,
  ]);
  const reference = referenceStarted.status === 'fulfilled' ? referenceStarted.value : undefined;
  if (started.status === 'rejected' || referenceStarted.status === 'rejected') {
    await Promise.all([started.status === 'fulfilled' ? started.value.stop() : undefined, reference?.server.stop()]);
    throw started.status === 'rejected' ? started.reason : (referenceStarted as PromiseRejectedResult).reason;
  }
  const server = started.value;
  const bootMs = Math.round(performance.now() - booting);
  let peakPgConnections = 0;
  let pgPeakKb: number | undefined;
  const readMemory = async (): Promise<number | undefined> => {
    if (!options.pgMemory) return undefined;
    const kb = backendsRssAnonKb(await backendPids(probe, scenario.databases));
    if (kb !== undefined) pgPeakKb = Math.max(pgPeakKb ?? 0, kb);
    return kb;
  };
  let probing = true;
  const sampler = (async () => {
    for (let n = 0; probing; n++) {
      const pids = await backendPids(probe, scenario.databases);
      peakPgConnections = Math.max(peakPgConnections, pids.length);
      if (options.pgMemory && n % MEMORY_EVERY === 0) {
        const kb = backendsRssAnonKb(pids);
        if (kb !== undefined) pgPeakKb = Math.max(pgPeakKb ?? 0, kb);
      }
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
  })();
  try {
    await verifyScenario(server.port, scenario);
    const load = { port: server.port, connections: settings.connections, tenants: scenario.tenants, workload: scenario.workload };
    const warmedReqPerSec = await warmUp([{ server, load }, ...(reference ? [reference] : [])], settings.warmupS);
    // paired: the scenario's own figures are its side of the interleaved windows (as long in all as one window),
    // fewer and longer windows for a slow workload (sized by the slower side's warm-up)
    const sized = warmedReqPerSec.length ? windowsFor(windows, settings.durationS, Math.min(...warmedReqPerSec)) : windows;
    const paired = reference ? await measurePaired({ server, load }, reference, { windows: sized, windowS: settings.durationS / sized }) : undefined;
    const own = paired?.scenario ?? (await measureAlone(server, { ...load, durationS: settings.durationS }));
    const after = await server.usage();
    const pgEndKb = await readMemory();
    const mb = (kb: number | undefined): number | null => (kb === undefined ? null : round(kb / 1024, 1));
    return {
      scenario: scenario.id,
      ...position,
      ...own,
      peakRssMb: round(after.peakRss / 1024 / 1024, 1),
      rssEndMb: round(after.rss / 1024 / 1024, 1),
      peakPgConnections,
      pgBackendsMb: mb(pgEndKb),
      pgBackendsPeakMb: mb(pgPeakKb),
      bootMs,
      ...(paired ? { paired } : {}),
    };
  } finally {
    probing = false;
    await sampler;
    await Promise.all([server.stop(), reference?.server.stop()]);
  }
}

/** One window of load on the scenario alone (a baseline, or a run without paired windows). */
async function measureAlone(server: ServerProcess, load: LoadOptions): Promise<PairedSide> {
  const before = await server.usage();
  const result = await runLoad(load);
  const after = await server.usage();
  return {
    reqPerSec: round(result.reqPerSec, 1),
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    requests: result.requests,
    errors: result.errors,
    non2xx: result.non2xx,
    cpuUsPerReq: round(result.requests ? (after.cpuUs - before.cpuUs) / result.requests : 0, 1),
  };
}

/** Warm-ups are taken in turns of about this long per side. */
const WARMUP_TURN_S = 1;

/**
 * Warms each side up for `warmupS` in all, in alternating turns (scenario, reference, scenario, ...), so neither side
 * idles through the other's whole warm-up right before the measured windows (a scenario that had idled through a
 * 40-s reference warm-up measured ~0.6x in its first window, ~0.9x later). Returns each side's req/s over its turns.
 */
async function warmUp(sides: { server: ServerProcess; load: Omit<LoadOptions, 'durationS'> }[], warmupS: number): Promise<number[]> {
  if (warmupS <= 0) return [];
  const turns = Math.max(1, Math.round(warmupS / WARMUP_TURN_S));
  const reqPerSec = sides.map(() => 0);
  for (let turn = 0; turn < turns; turn++) {
    for (const [i, side] of sides.entries()) {
      reqPerSec[i] += (await runLoad({ ...side.load, durationS: warmupS / turns })).reqPerSec / turns;
      await settle(side.server);
    }
  }
  return reqPerSec;
}

/**
 * Waits (at most 5 s) until the server is idle: when the warm-up's load generator stops, the requests it had in
 * flight still run on the server, and would otherwise be counted in the measured window's CPU and slow its start.
 */
async function settle(server: ServerProcess): Promise<void> {
  const deadline = performance.now() + 5_000;
  let previous = await server.usage();
  let at = performance.now();
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = await server.usage();
    const elapsedUs = (performance.now() - at) * 1000;
    if (now.cpuUs - previous.cpuUs < elapsedUs * 0.2) return; // under 20% of one core
    previous = now;
    at = performance.now();
  }
}


export const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;
