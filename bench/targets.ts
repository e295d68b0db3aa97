import type { BenchResults } from './results.js';
import { type Metric, delta, medians, ratio } from './stats.js';

export interface TargetResult {
  target: string;
  measured: string;
  /** undefined: not measured in this run (scenario filtered out). */
  met: boolean | undefined;
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** Issue #6's targets, each checked against this run's figures (ratios within the same repetition). */
export function evaluateTargets(results: BenchResults): TargetResult[] {
  const m = results.measurements;
  const has = (id: string): boolean => m.some((x) => x.scenario === id);
  const out: TargetResult[] = [];
  const check = (target: string, ids: string[], evaluate: () => { measured: string; met: boolean }): void => {
    if (!ids.every(has)) out.push({ target, measured: 'not run', met: undefined });
    else out.push({ target, ...evaluate() });
  };
  const r = (id: string, ref: string, metric: Metric): number => ratio(m, id, ref, metric);

  for (const adapter of ['express', 'fastify']) {
    const base = `2-nest-mikro-${adapter}`;
    for (const tenants of [10, 100]) {
      const id = `4-schema-${tenants}-${adapter}`;
      check(`Schema routing, ${tenants} tenants (${adapter}): >= 0.95x baseline req/s, p99 <= 1.10x, <= +20 µs CPU/req`, [id, base], () => {
        const rps = r(id, base, 'reqPerSec');
        const p99 = r(id, base, 'p99Ms');
        const cpu = delta(m, id, base, 'cpuUsPerReq');
        return { measured: `${fmt(rps)}x req/s, ${fmt(p99)}x p99, ${cpu >= 0 ? '+' : ''}${fmt(cpu, 0)} µs CPU/req`, met: rps >= 0.95 && p99 <= 1.1 && cpu <= 20 };
      });
    }
    const big = `4-schema-1000-${adapter}`;
    const small = `4-schema-10-${adapter}`;
    check(`Schema routing, 1000 tenants (${adapter}): >= 0.90x baseline req/s, RSS within +50 MB of 10 tenants`, [big, small, base], () => {
      const rps = r(big, base, 'reqPerSec');
      const rss = delta(m, big, small, 'peakRssMb');
      return { measured: `${fmt(rps)}x req/s, RSS ${rss >= 0 ? '+' : ''}${fmt(rss, 1)} MB`, met: rps >= 0.9 && rss <= 50 };
    });
  }
  check('Database isolation, warm (20 tenants): >= 0.95x baseline req/s', ['5-database-warm-express', '2-nest-mikro-express'], () => {
    const rps = r('5-database-warm-express', '2-nest-mikro-express', 'reqPerSec');
    return { measured: `${fmt(rps)}x req/s`, met: rps >= 0.95 };
  });
  const churn = results.scenarios.find((s) => s.id === '6-database-churn-express');
  check(`Database isolation, churn (200 tenants, maxOpenTenants 20): zero errors, connections <= budget (${churn?.connectionBudget ?? '?'})`, ['6-database-churn-express'], () => {
    const runs = m.filter((x) => x.scenario === '6-database-churn-express');
    const errors = runs.reduce((sum, x) => sum + x.errors, 0);
    const peak = Math.max(...runs.map((x) => x.peakPgConnections));
    const budget = churn?.connectionBudget ?? 0;
    return { measured: `${errors} errors, peak ${peak} connections, ${fmt(medians(m, '6-database-churn-express').reqPerSec, 0)} req/s (median)`, met: errors === 0 && peak <= budget };
  });
  check("Request-scoped injection reported (opt-in; expected well below)", ['7-request-scoped-express', '2-nest-mikro-express'], () => ({
    measured: `${fmt(r('7-request-scoped-express', '2-nest-mikro-express', 'reqPerSec'))}x baseline req/s, ${fmt(r('7-request-scoped-express', '4-schema-10-express', 'reqPerSec'))}x context injection (4-schema-10)`,
    met: true,
  }));

  const mig = results.migrations;
  const fan = (tenants: number, concurrency: number) => mig?.fanOut.find((f) => f.tenants === tenants && f.concurrency === concurrency);
  const largest = mig ? Math.max(...mig.fanOut.map((f) => f.tenants)) : 0;
  const c1 = fan(largest, 1);
  const c4 = fan(largest, 4);
  if (!mig || !c1) out.push({ target: 'Fan-out over 1000 schemas >= 20x faster per tenant than the per-schema CLI loop', measured: 'not run', met: undefined });
  else {
    const speedup = mig.cli.msPerSchema / c1.msPerTenant;
    const best = Math.min(...mig.fanOut.filter((f) => f.tenants === largest).map((f) => f.msPerTenant));
    out.push({
      target: `Fan-out over ${largest} schemas >= 20x faster per tenant than the per-schema CLI loop (at concurrency 1)`,
      measured: `${fmt(speedup, 0)}x (${c1.msPerTenant} vs ${mig.cli.msPerSchema} ms per tenant; best concurrency: ${fmt(mig.cli.msPerSchema / best, 0)}x)`,
      met: largest >= 1000 && speedup >= 20,
    });
  }
  if (!c1 || !c4) out.push({ target: 'Fan-out concurrency 4 >= 1.5x faster than concurrency 1', measured: 'not run', met: undefined });
  else {
    const speedup = c1.migrateMs / c4.migrateMs;
    out.push({ target: `Fan-out over ${largest} schemas: concurrency 4 >= 1.5x faster than concurrency 1`, measured: `${fmt(speedup)}x (${c1.migrateMs} ms vs ${c4.migrateMs} ms)`, met: speedup >= 1.5 });
  }
  return out;
}
