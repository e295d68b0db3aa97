import type { BenchResults } from './results.js';
import { AFFINE_SCENARIO, type Adapter, SERVER_GROUP, SHARED_TABLE_TENANTS, type Workload, baselineOf, serverGroupId } from './scenarios.js';
import { NOISE_CV } from './settings.js';
import { type Metric, delta, medians, noiseOf, ratio } from './stats.js';

export interface TargetResult {
  target: string;
  measured: string;
  /** undefined: not measured in this run (scenario filtered out). */
  met: boolean | undefined;
  /** Reported, with no target to meet (opt-in modes, comparisons with the by-hand peer, PostgreSQL memory). */
  info?: boolean;
  /** Why the comparison is "noisy, not a result" (its repetitions disagree), when it is. */
  noisy?: string;
  /** Why the figures cannot answer the target (e.g. a quick run migrates 50 schemas, the target is about 1000). */
  notResult?: string;
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const signed = (value: number, digits = 0): string => `${value >= 0 ? '+' : ''}${fmt(value, digits)}`;

/** Targets of issues #6, #18, #15 and #17, each checked against this run's figures (ratios within the same repetition). */
export function evaluateTargets(results: BenchResults): TargetResult[] {
  const m = results.measurements;
  const threshold = results.method.noiseCv ?? NOISE_CV;
  const has = (id: string): boolean => m.some((x) => x.scenario === id);
  const out: TargetResult[] = [];
  /** `compared`: [scenario, reference] pairs whose req/s ratios must agree over the repetitions for a result. */
  const check = (target: string, ids: string[], compared: [string, string][], evaluate: () => { measured: string; met: boolean; info?: boolean }): void => {
    if (!ids.every(has)) {
      out.push({ target, measured: 'not run', met: undefined });
      return;
    }
    const noisy = compared
      .map(([id, ref]) => ({ id, ref, spread: noiseOf(m, id, ref, threshold) }))
      .filter((x) => x.spread.noisy)
      .map((x) => `${x.id} vs ${x.ref}: ${x.spread.reason}`);
    out.push({ target, ...evaluate(), ...(noisy.length ? { noisy: noisy.join('; ') } : {}) });
  };
  const r = (id: string, ref: string, metric: Metric): number => ratio(m, id, ref, metric);
  const routingFigures = (id: string, base: string) => {
    const rps = r(id, base, 'reqPerSec');
    const p99 = r(id, base, 'p99Ms');
    const cpu = delta(m, id, base, 'cpuUsPerReq');
    return { rps, p99, cpu, text: `${fmt(rps)}x req/s, ${fmt(p99)}x p99, ${signed(cpu)} µs CPU/req` };
  };

  const workloads: { workload: Workload; schema: string; warm: string; label: string }[] = [
    { workload: 'findOne', schema: '4-schema', warm: '5-database-warm-express', label: 'findOne' },
    { workload: 'relational', schema: '8-rel-schema', warm: '8-rel-database-warm-express', label: 'relational (list + join + m:n + count)' },
  ];
  for (const { workload, schema, warm, label } of workloads) {
    for (const adapter of ['express', 'fastify'] as Adapter[]) {
      const base = baselineOf(workload, adapter);
      for (const tenants of [10, 100]) {
        const id = `${schema}-${tenants}-${adapter}`;
        check(`Schema routing, ${tenants} tenants, ${label} (${adapter}): >= 0.95x baseline req/s (stretch 0.98x), p99 <= 1.10x, <= +20 µs CPU/req`, [id, base], [[id, base]], () => {
          const f = routingFigures(id, base);
          return { measured: `${f.text}${f.rps >= 0.98 ? ' (stretch met)' : ''}`, met: f.rps >= 0.95 && f.p99 <= 1.1 && f.cpu <= 20 };
        });
      }
      const big = `${schema}-1000-${adapter}`;
      const small = `${schema}-10-${adapter}`;
      check(`Schema routing, 1000 tenants, ${label} (${adapter}): >= 0.90x baseline req/s, Node RSS within +50 MB of 10 tenants`, [big, small, base], [[big, base]], () => {
        const rps = r(big, base, 'reqPerSec');
        const rss = delta(m, big, small, 'peakRssMb');
        return { measured: `${fmt(rps)}x req/s, peak RSS ${signed(rss, 1)} MB`, met: rps >= 0.9 && rss <= 50 };
      });
    }
    const base = baselineOf(workload, 'express');
    check(`Database isolation, warm (20 tenants), ${label}: >= 0.95x baseline req/s`, [warm, base], [[warm, base]], () => {
      const rps = r(warm, base, 'reqPerSec');
      return { measured: `${fmt(rps)}x req/s`, met: rps >= 0.95 };
    });
  }

  const pg = (id: string): number => medians(m, id).pgBackendsMb;
  for (const [big, small, label] of [['4-schema-1000-express', '4-schema-10-express', 'findOne'], ['8-rel-schema-1000-express', '8-rel-schema-10-express', 'relational']] as const) {
    check(`PostgreSQL memory, 1000 schemas vs 10, ${label} (express): measured (no bound set)`, [big, small], [], () => {
      const conns = medians(m, big).peakPgConnections;
      return {
        measured: Number.isFinite(pg(big))
          ? `backends' private memory ${fmt(pg(big), 0)} MB at 1000 schemas (${fmt(pg(big) / conns, 1)} MB per connection) vs ${fmt(pg(small), 0)} MB at 10; Node RSS at the end ${fmt(medians(m, big).rssEndMb, 0)} vs ${fmt(medians(m, small).rssEndMb, 0)} MB`
          : results.method.pgMemory === false
            ? 'not measurable here (PostgreSQL not on this machine)'
            : 'not measured in this run (older result file)',
        met: true,
        info: true,
      };
    });
  }

  // the same 1000 schemas with tenancy.connectionAffinity: the 1000-tenant target again, and what it does to PostgreSQL's memory
  const affine = AFFINE_SCENARIO.id;
  check(`Schema routing, ${AFFINE_SCENARIO.tenants} tenants, findOne, connectionAffinity ${AFFINE_SCENARIO.groups} groups (express): >= 0.90x baseline req/s`, [affine, '4-schema-1000-express', '2-nest-mikro-express'], [[affine, '2-nest-mikro-express']], () => {
    const rps = r(affine, '2-nest-mikro-express', 'reqPerSec');
    const memory = Number.isFinite(pg(affine)) ? `; backends' private memory ${fmt(pg(affine), 0)} MB vs ${fmt(pg('4-schema-1000-express'), 0)} MB without affinity` : '';
    return { measured: `${fmt(rps)}x req/s (${fmt(r(affine, '4-schema-1000-express', 'reqPerSec'))}x the same tenants without affinity)${memory}`, met: rps >= 0.9 };
  });

  const churn = results.scenarios.find((s) => s.id === '6-database-churn-express');
  check(`Database isolation, churn (200 tenants, maxOpenTenants 20): zero errors, connections <= budget (${churn?.connectionBudget ?? '?'})`, ['6-database-churn-express'], [], () => {
    const runs = m.filter((x) => x.scenario === '6-database-churn-express');
    const errors = runs.reduce((sum, x) => sum + x.errors, 0);
    const peak = Math.max(...runs.map((x) => x.peakPgConnections));
    const budget = churn?.connectionBudget ?? 0;
    return { measured: `${errors} errors, peak ${peak} connections, ${fmt(medians(m, '6-database-churn-express').reqPerSec, 0)} req/s (median)`, met: errors === 0 && peak <= budget };
  });
  check("Request-scoped injection (opt-in; expected well below)", ['7-request-scoped-express', '2-nest-mikro-express'], [['7-request-scoped-express', '2-nest-mikro-express']], () => ({
    measured: `${fmt(r('7-request-scoped-express', '2-nest-mikro-express', 'reqPerSec'))}x baseline req/s, ${fmt(r('7-request-scoped-express', '4-schema-10-express', 'reqPerSec'))}x context injection (4-schema-10)`,
    met: true,
    info: true,
  }));

  for (const [library, byHand, plain, label] of [
    ['4-schema-100-express', '9-by-hand-schema-100-express', '2-nest-mikro-express', 'schema, 100 tenants, findOne'],
    ['8-rel-schema-100-express', '9-by-hand-rel-schema-100-express', '8-rel-nest-mikro-express', 'schema, 100 tenants, relational'],
    ['4-schema-1000-express', '9-by-hand-schema-1000-express', '2-nest-mikro-express', 'schema, 1000 tenants, findOne'],
    ['5-database-warm-express', '9-by-hand-database-warm-express', '2-nest-mikro-express', 'database, warm (20 tenants), findOne'],
    ['8-rel-database-warm-express', '9-by-hand-rel-database-warm-express', '8-rel-nest-mikro-express', 'database, warm (20 tenants), relational'],
  ] as const) {
    check(`Library vs the by-hand peer (${label}, express)`, [library, byHand, plain], [[library, byHand], [byHand, plain]], () => ({
      measured: `library ${routingFigures(library, byHand).text} of by hand; by hand ${routingFigures(byHand, plain).text} of plain @mikro-orm/nestjs`,
      met: true,
      info: true,
    }));
  }

  // issue 15: shared tables against plain @mikro-orm/nestjs (what bounds them: the report's notes)
  for (const { workload, prefix, label } of [
    { workload: 'findOne', prefix: '10-table', label: 'findOne' },
    { workload: 'relational', prefix: '10-rel-table', label: 'relational (list + join + m:n + count)' },
  ] as const) {
    const base = baselineOf(workload, 'express');
    for (const { layer, name, floor } of [
      { layer: 'orm', name: 'ORM filter alone (rowLevelSecurity: false)', floor: 0.97 },
      { layer: 'rls', name: 'ORM filter + row-level security', floor: 0.9 },
    ] as const) {
      const id = `${prefix}-${layer}-${SHARED_TABLE_TENANTS}-express`;
      check(`Shared tables, ${name}, ${SHARED_TABLE_TENANTS} tenants, ${label} (express): >= ${fmt(floor)}x baseline req/s`, [id, base], [[id, base]], () => {
        const f = routingFigures(id, base);
        return { measured: f.text, met: f.rps >= floor };
      });
    }
  }

  // issue 17: the same tenants over three servers against one, in the same repetition (all on this machine's cores)
  for (const workload of ['findOne', 'relational'] as const) {
    const [one, three] = [serverGroupId(workload, 1), serverGroupId(workload, SERVER_GROUP.servers)];
    const label = workload === 'findOne' ? 'findOne' : 'relational';
    check(`Servers, ${SERVER_GROUP.tenants} tenants on ${SERVER_GROUP.servers} servers vs the same on one, schema, ${label} (express): >= 0.90x req/s (routing over servers costs little; the servers share this machine's cores, so no added capacity is expected)`, [three, one], [[three, one]], () => {
      const f = routingFigures(three, one);
      return { measured: f.text, met: f.rps >= 0.9 };
    });
  }

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
      met: speedup >= 20,
      ...(largest < 1000 ? { notResult: `the target is about 1000 schemas; this run migrated ${largest}` } : {}),
    });
  }
  if (!c1 || !c4) out.push({ target: 'Fan-out concurrency 4 >= 1.5x faster than concurrency 1', measured: 'not run', met: undefined });
  else {
    const speedup = c1.migrateMs / c4.migrateMs;
    out.push({
      target: `Fan-out over ${largest} schemas: concurrency 4 >= 1.5x faster than concurrency 1`,
      measured: `${fmt(speedup)}x (${c1.migrateMs} ms vs ${c4.migrateMs} ms)`,
      met: speedup >= 1.5,
      ...(largest < 1000 ? { notResult: `the target is about 1000 schemas; this run migrated ${largest}` } : {}),
    });
  }
  return out;
}

/** The Result cell of a target: met / not met, "noisy, not a result", reported, or not run. */
export function resultCell(t: TargetResult): string {
  if (t.met === undefined) return 'not run';
  if (t.notResult) return `**not a result** (${t.notResult}); would be ${t.met ? 'met' : 'not met'}`;
  if (t.noisy) return `**noisy, not a result** (${t.noisy})${t.info ? '' : `; would be ${t.met ? 'met' : 'not met'}`}`;
  if (t.info) return 'reported';
  return t.met ? '**met**' : '**not met**';
}
