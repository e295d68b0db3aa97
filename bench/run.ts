/**
 * `npm run bench` (`-- --quick` for a smoke run): issue #6's benchmarks. Starts one PostgreSQL (embedded in a temp
 * dir, or DATABASE_URL), prepares every database once, runs each HTTP scenario's server in its own process for a
 * bounded window per repetition (scenario order rotated every repetition), then the migration fan-out, and writes
 * bench/results/latest.md and latest.json. Not part of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { usePostgres } from '../scripts/embedded-postgres.js';
import { prepareDatabases, serverFacts } from './databases.js';
import { environmentFacts } from './environment.js';
import { type Measurement, measureScenario } from './measure.js';
import { runMigrationBench } from './migrations/bench-migrations.js';
import { renderMarkdown } from './report.js';
import type { BenchResults } from './results.js';
import { orderForRepetition, selectScenarios } from './scenarios.js';
import { killAllServers } from './server-process.js';
import { INSERT_SHARE, SEEDED_ROWS, readSettings } from './settings.js';

const log = (line: string): void => void process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<void> {
  const settings = readSettings(process.argv.slice(2), process.env);
  const started = new Date();
  const postgres = await usePostgres({ log });
  const cleanup = async (): Promise<void> => {
    killAllServers();
    await postgres.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping servers and PostgreSQL`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const pgFacts = await serverFacts(postgres.url);
    const scenarios = selectScenarios(settings.scenarioFilter);
    const measurements: Measurement[] = [];
    if (settings.http && scenarios.length) {
      log('preparing databases');
      const databases = await prepareDatabases(postgres.url, log);
      const probe = new pg.Client({ connectionString: postgres.url });
      await probe.connect();
      try {
        for (let rep = 0; rep < settings.reps; rep++) {
          const order = orderForRepetition(scenarios, rep);
          for (const [index, scenario] of order.entries()) {
            const m = await measureScenario(scenario, databases, settings, probe, { rep, order: index });
            measurements.push(m);
            log(`rep ${rep + 1}/${settings.reps} ${scenario.id.padEnd(26)} ${m.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms  ${m.cpuUsPerReq} µs CPU/req  RSS ${m.peakRssMb} MB  PG ${m.peakPgConnections}  errors ${m.errors}`);
          }
        }
      } finally {
        await probe.end();
      }
    }
    const results: BenchResults = {
      date: started.toISOString(),
      finished: new Date().toISOString(),
      environment: { ...environmentFacts(), postgres: { ...pgFacts, embedded: postgres.embedded } },
      method: {
        quick: settings.quick,
        reps: settings.reps,
        durationS: settings.durationS,
        warmupS: settings.warmupS,
        connections: settings.connections,
        insertShare: INSERT_SHARE,
        seededRows: SEEDED_ROWS,
      },
      scenarios: scenarios.map(({ id, group, title, adapter, tenants, connectionBudget }) => ({ id, group, title, adapter, tenants, connectionBudget })),
      measurements,
    };
    const save = (): void => {
      mkdirSync(settings.resultsDir, { recursive: true });
      writeFileSync(join(settings.resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
      writeFileSync(join(settings.resultsDir, 'latest.md'), renderMarkdown(results));
    };
    save(); // the HTTP figures survive a failing migration benchmark
    if (settings.migrations) {
      results.migrations = await runMigrationBench(postgres.url, settings, log);
      results.finished = new Date().toISOString();
      save();
    }
    log(`wrote ${join(settings.resultsDir, 'latest.md')} and latest.json`);
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
