import type pg from 'pg';
import { countConnections } from './databases.js';
import { runLoad } from './load.js';
import type { BenchDatabases, Scenario } from './scenarios.js';
import { ServerProcess } from './server-process.js';
import type { BenchSettings } from './settings.js';

/** Every figure of one scenario in one repetition. */
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
  /** Most client connections seen on the scenario's databases (sampled every 100 ms, warm-up included). */
  peakPgConnections: number;
  bootMs: number;
}

const PROBE_INTERVAL_MS = 100;

/** Starts the scenario's server, warms it up, measures one bounded window, and stops it. */
export async function measureScenario(
  scenario: Scenario,
  databases: BenchDatabases,
  settings: BenchSettings,
  probe: pg.Client,
  position: { rep: number; order: number },
): Promise<Measurement> {
  const booting = performance.now();
  const server = await ServerProcess.start(scenario.spec(databases), cpuProfileArgs(scenario));
  const bootMs = Math.round(performance.now() - booting);
  let peakPgConnections = 0;
  let probing = true;
  const sampler = (async () => {
    while (probing) {
      peakPgConnections = Math.max(peakPgConnections, await countConnections(probe, scenario.databases));
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
  })();
  try {
    const load = { port: server.port, connections: settings.connections, tenants: scenario.tenants };
    if (settings.warmupS > 0) await runLoad({ ...load, durationS: settings.warmupS });
    const before = await server.usage();
    const result = await runLoad({ ...load, durationS: settings.durationS });
    const after = await server.usage();
    return {
      scenario: scenario.id,
      ...position,
      reqPerSec: round(result.reqPerSec, 1),
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      requests: result.requests,
      errors: result.errors,
      non2xx: result.non2xx,
      cpuUsPerReq: round(result.requests ? (after.cpuUs - before.cpuUs) / result.requests : 0, 1),
      peakRssMb: round(after.peakRss / 1024 / 1024, 1),
      peakPgConnections,
      bootMs,
    };
  } finally {
    probing = false;
    await sampler;
    await server.stop();
  }
}

/** BENCH_CPU_PROF=<scenario id prefix>: that scenario's server writes a V8 CPU profile to bench/.profiles. */
function cpuProfileArgs(scenario: Scenario): string[] {
  const wanted = process.env.BENCH_CPU_PROF;
  if (!wanted || !scenario.id.startsWith(wanted)) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${new URL('./.profiles/', import.meta.url).pathname}`];
}

export const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;
