/**
 * `npm run bench` (`-- --quick` for a smoke run): the benchmarks of issues #6, #18, #15 (shared tables) and #17 (servers).
 * Starts one PostgreSQL (embedded in a temp dir, or DATABASE_URL; scenario 11 starts two more), prepares the databases the selected scenarios need once, runs each HTTP
 * scenario's server in its own process for a bounded window per repetition (scenario order rotated every
 * repetition), then the migration fan-out. A full run writes bench/results/latest.md and latest.json; any other run
 * (--quick, BENCH_SCENARIOS, fewer repetitions...) writes to bench/results/quick/ (see settings.ts). Prints an
 * estimate first and its wall time at the end. Not part of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { usePostgres } from '../scripts/embedded-postgres.js';
import { canReadBackendMemory, prepareDatabases, serverFacts } from './databases.js';
import { RELATIONAL, TAGS_PER_ARTICLE } from './entities.js';
import { environmentFacts } from './environment.js';
import { type Measurement, measureScenario } from './measure.js';
import { runMigrationBench } from './migrations/bench-migrations.js';
import { formatWall, renderMarkdown } from './report.js';
import type { BenchResults } from './results.js';
import { type StorageNeeds, orderForRepetition, selectScenarios, storageNeeds } from './scenarios.js';
import { killAllServers } from './server-process.js';
import { pairedReferenceOf } from './reference-servers.js';
import { type ServerGroup, prepareServerGroup, serverGroupSummary } from './servers-group.js';
import { type BenchSettings, INSERT_SHARE, SEEDED_ROWS, readSettings } from './settings.js';

const log = (line: string): void => void process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/**
 * Rough duration from the settings: per scenario and repetition, boot + check + settle + stop (~2 s) + warm-up + window
 * (paired: as long again for the fresh baseline's check, warm-up and windows, and ~0.2 s per window);
 * preparing the databases; the migration part (fan-out ~25 ms per tenant per concurrency, CLI ~1.2 s per schema).
 */
function estimateS(settings: BenchSettings, scenarios: number, needs: StorageNeeds): number {
  const http = settings.http ? scenarios * settings.reps * (2 + settings.warmupS + settings.durationS + (settings.pairedWindows > 0 ? 1 + settings.warmupS + settings.durationS + 0.4 * settings.pairedWindows : 0)) + needs.schemas * 0.04 + needs.databases * 0.1 + (needs.shared ? 3 : 0) + (needs.servers ? 8 : 0) : 0;
  const fanOut = settings.fanOutTenants.reduce((sum, tenants) => sum + tenants * 0.025 * settings.fanOutConcurrency.length, 0);
  const migrations = settings.migrations ? fanOut + settings.cliSchemas * 1.2 + 10 : 0;
  return http + migrations + 10;
}

async function main(): Promise<void> {
  const wallStart = performance.now();
  const settings = readSettings(process.argv.slice(2), process.env);
  const started = new Date();
  const scenarios = settings.http ? selectScenarios(settings.scenarioFilter) : [];
  const needs = storageNeeds(scenarios);
  log(`${settings.full ? 'full run' : `not a full run (${settings.notFull.join(', ')})`}: results go to ${settings.resultsDir}`);
  log(`${scenarios.length} scenarios x ${settings.reps} repetition(s)${settings.migrations ? ' + migrations' : ''}: about ${formatWall(estimateS(settings, scenarios.length, needs))} on an idle 2-core machine`);
  const postgres = await usePostgres({ log });
  let serverGroup: ServerGroup | undefined;
  const cleanup = async (): Promise<void> => {
    killAllServers();
    await serverGroup?.stop();
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
    const measurements: Measurement[] = [];
    let pgMemory = false;
    if (scenarios.length) {
      log('preparing databases');
      const databases = await prepareDatabases(postgres.url, needs, log);
      if (needs.servers) {
        serverGroup = await prepareServerGroup(postgres.url, needs.servers, log);
        databases.servers = serverGroup.databases;
      }
      const probe = new pg.Client({ connectionString: postgres.url });
      await probe.connect();
      try {
        pgMemory = await canReadBackendMemory(probe);
        if (!pgMemory) log('PostgreSQL backends\' memory is not readable from /proc here (PostgreSQL on another machine?): not measured');
        for (let rep = 0; rep < settings.reps; rep++) {
          const order = orderForRepetition(scenarios, rep);
          for (const [index, scenario] of order.entries()) {
            const reference = settings.pairedWindows > 0 ? pairedReferenceOf(scenario, scenarios) : undefined;
            const m = await measureScenario(scenario, databases, settings, probe, { rep, order: index }, { pgMemory, reference });
            measurements.push(m);
            log(
              `rep ${rep + 1}/${settings.reps} ${scenario.id.padEnd(34)} ${m.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms  ${m.cpuUsPerReq} µs CPU/req  ` +
                `RSS ${m.rssEndMb} MB (peak ${m.peakRssMb})  PG ${m.peakPgConnections} conns, ${m.pgBackendsMb ?? 'n/a'} MB  errors ${m.errors}` +
                (m.paired ? `  paired vs ${m.paired.reference}: ${(m.paired.scenario.reqPerSec / m.paired.baseline.reqPerSec).toFixed(2)}x req/s (windows ${m.paired.windowRatios.join(' ')}), ${(m.paired.scenario.cpuUsPerReq - m.paired.baseline.cpuUsPerReq).toFixed(0)} µs CPU/req` : ''),
            );
          }
        }
      } finally {
        await probe.end();
      }
      for (const line of serverGroupSummary(measurements)) log(line);
    }
    const results: BenchResults = {
      date: started.toISOString(),
      finished: new Date().toISOString(),
      environment: { ...environmentFacts(), postgres: { ...pgFacts, embedded: postgres.embedded } },
      method: {
        quick: settings.quick,
        full: settings.full,
        notFull: settings.notFull,
        reps: settings.reps,
        durationS: settings.durationS,
        warmupS: settings.warmupS,
        connections: settings.connections,
        insertShare: INSERT_SHARE,
        seededRows: SEEDED_ROWS,
        noiseCv: settings.noiseCv,
        relational: { articles: RELATIONAL.articles, authors: RELATIONAL.authors, tags: RELATIONAL.tags, tagsPerArticle: TAGS_PER_ARTICLE, pageSize: RELATIONAL.pageSize },
        pgMemory,
        pairedWindows: settings.pairedWindows,
      },
      scenarios: scenarios.map(({ id, group, title, adapter, tenants, connectionBudget, workload, baseline }) => ({ id, group, title, adapter, tenants, connectionBudget, workload, baseline })),
      measurements,
    };
    const save = (): void => {
      results.finished = new Date().toISOString();
      results.wallS = Math.round((performance.now() - wallStart) / 1000);
      mkdirSync(settings.resultsDir, { recursive: true });
      writeFileSync(join(settings.resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
      writeFileSync(join(settings.resultsDir, 'latest.md'), renderMarkdown(results));
    };
    save(); // the HTTP figures survive a failing migration benchmark
    if (settings.migrations) {
      results.migrations = await runMigrationBench(postgres.url, settings, log);
      save();
    }
    log(`wrote ${join(settings.resultsDir, 'latest.md')} and latest.json`);
  } finally {
    await cleanup();
    log(`bench finished in ${formatWall((performance.now() - wallStart) / 1000)} (wall time, PostgreSQL start and stop included)`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
