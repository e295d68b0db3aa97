/**
 * `npm run bench:scale`: the separate, longer scale run of issue #18 (not part of `npm run bench`). Creates one
 * database with 1,000 tenant schemas (the default bench's largest count) and one with BENCH_SCALE_SCHEMAS (10,000)
 * schemas, then measures schema routing over each (findOne and relational workloads, express) against plain
 * @mikro-orm/nestjs, with Node's and PostgreSQL's memory, and reports the large count against 1,000. Every database
 * it made is dropped at the end, also on failure or Ctrl-C.
 *
 * Schemas are created with plain SQL rendered from one template (databases.ts' createTenantSchemas: 50 schemas per
 * transaction over 2 connections), not with TenantLifecycle.create: creating through the library runs the migrator
 * per tenant (tens of ms per tenant, growing with the catalog: minutes for 10,000) and this run measures serving,
 * not creating; the tables are the migration set's.
 *
 * Knobs: BENCH_SCALE_SCHEMAS (10000), BENCH_SCALE_COMPARE (1000), BENCH_REPS (3), BENCH_DURATION (15 s),
 * BENCH_WARMUP (20 s), BENCH_CONNECTIONS (50), BENCH_NOISE_CV (0.10), BENCH_RESULTS_DIR. A run with the defaults (or
 * more) writes bench/results/scale.md and scale.json; any smaller run writes to bench/results/quick/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { usePostgres } from '../scripts/embedded-postgres.js';
import { canReadBackendMemory, createTenantSchemas, dropDatabase, recreateDatabase, serverFacts, tenantTablesSql, withClient, withDatabase } from './databases.js';
import { environmentFacts } from './environment.js';
import { type Measurement, measureScenario, round } from './measure.js';
import { formatWall } from './report.js';
import { type BenchDatabases, type Scenario, type Workload, baselineOf, orderForRepetition } from './scenarios.js';
import { killAllServers } from './server-process.js';
import { NOISE_CV, QUICK_RESULTS_DIR, RESULTS_DIR } from './settings.js';
import { MIN_REQUESTS, delta, medians, noiseOf, ratio } from './stats.js';

const log = (line: string): void => void process.stdout.write(`[bench:scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const DEFAULTS = { schemas: 10_000, compare: 1000, reps: 3, durationS: 15, warmupS: 20, connections: 50 } as const;

interface ScaleSettings {
  schemas: number;
  compare: number;
  reps: number;
  durationS: number;
  warmupS: number;
  connections: number;
  noiseCv: number;
  full: boolean;
  resultsDir: string;
}

function readScaleSettings(env: NodeJS.ProcessEnv): ScaleSettings {
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) && name !== 'BENCH_NOISE_CV') throw new Error(`${name} must be a whole number, got '${raw}'`);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got '${raw}'`);
    return value;
  };
  const s = {
    schemas: num('BENCH_SCALE_SCHEMAS', DEFAULTS.schemas),
    compare: num('BENCH_SCALE_COMPARE', DEFAULTS.compare),
    reps: num('BENCH_REPS', DEFAULTS.reps),
    durationS: num('BENCH_DURATION', DEFAULTS.durationS),
    warmupS: num('BENCH_WARMUP', DEFAULTS.warmupS),
    connections: num('BENCH_CONNECTIONS', DEFAULTS.connections),
    noiseCv: num('BENCH_NOISE_CV', NOISE_CV),
  };
  if (s.compare < 1 || s.schemas <= s.compare) throw new Error(`BENCH_SCALE_SCHEMAS (${s.schemas}) must be more than BENCH_SCALE_COMPARE (${s.compare}), which must be at least 1`);
  const full = s.schemas >= DEFAULTS.schemas && s.compare === DEFAULTS.compare && s.reps >= DEFAULTS.reps && s.durationS >= DEFAULTS.durationS && s.warmupS >= DEFAULTS.warmupS;
  return { ...s, full, resultsDir: env.BENCH_RESULTS_DIR || (full ? RESULTS_DIR : QUICK_RESULTS_DIR) };
}

const scaleDb = (schemas: number): string => `bench_scale_${schemas}`;

/** What one prepared database holds, for the report. */
interface DatabaseFacts {
  name: string;
  schemas: number;
  /** Rows of its pg_class (tables, indexes, sequences of every schema plus the system catalog's). */
  relations: number;
  sizeMb: number;
  createS: number;
}

interface ScaleResults {
  date: string;
  finished: string;
  wallS: number;
  environment: ReturnType<typeof environmentFacts> & { postgres: { version: string; maxConnections: number; embedded: boolean } };
  method: Omit<ScaleSettings, 'resultsDir'> & { pgMemory: boolean };
  databases: DatabaseFacts[];
  scenarios: { id: string; title: string; workload: Workload; baseline: string; tenants: number }[];
  measurements: Measurement[];
}

function scaleScenarios(settings: ScaleSettings, urls: { main: string; small: string; large: string }): Scenario[] {
  const list: Scenario[] = [];
  for (const workload of ['findOne', 'relational'] as const) {
    const rel = workload === 'relational' ? 'rel-' : '';
    const baseline = baselineOf(workload, 'express');
    list.push({
      id: baseline, group: workload === 'findOne' ? 2 : 8, title: `Baseline: NestJS + @mikro-orm/nestjs, ${workload} (express)`, adapter: 'express', workload, baseline,
      tenants: 0, storage: 'main', databases: 'bench_main', spec: () => ({ kind: 'nest-mikro', adapter: 'express', url: urls.main }),
    });
    for (const [tenants, url] of [[settings.compare, urls.small], [settings.schemas, urls.large]] as const) {
      list.push({
        id: `10-scale-${rel}schema-${tenants}-express`, group: 10, title: `Schema isolation, ${tenants} schemas, ${workload} (express)`, adapter: 'express', workload, baseline,
        tenants, storage: 'schemas', databases: scaleDb(tenants), spec: () => ({ kind: 'library-schema', adapter: 'express', url, tenants, injection: 'context' }),
      });
    }
  }
  return list;
}

async function databaseFacts(url: string, name: string, schemas: number, createS: number): Promise<DatabaseFacts> {
  return withClient(url, async (client) => {
    const row = (await client.query<{ relations: string; size: string }>('select (select count(*) from pg_class) as relations, pg_database_size(current_database()) as size')).rows[0];
    return { name, schemas, relations: Number(row?.relations ?? 0), sizeMb: round(Number(row?.size ?? 0) / 1024 / 1024, 0), createS };
  });
}

async function main(): Promise<void> {
  const wallStart = performance.now();
  const settings = readScaleSettings(process.env);
  const started = new Date();
  log(`${settings.full ? 'full scale run' : 'not a full scale run (smaller than the defaults)'}: ${settings.schemas} schemas against ${settings.compare}; results go to ${settings.resultsDir}`);
  log(`about ${formatWall(settings.schemas * 0.06 + settings.compare * 0.06 + 6 * settings.reps * (4 + settings.warmupS + settings.durationS) + 30)} on an idle 2-core machine (creating the schemas is most of it)`);
  const postgres = await usePostgres({ log });
  const created: string[] = [];
  const cleanup = async (): Promise<void> => {
    killAllServers();
    for (const name of created.splice(0)) {
      await dropDatabase(postgres.url, name).catch((error: unknown) => log(`could not drop ${name}: ${String(error)}`));
    }
    log('dropped the scale databases');
    await postgres.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping servers, dropping the scale databases, stopping PostgreSQL`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const pgFacts = await serverFacts(postgres.url);
    created.push('bench_main');
    await recreateDatabase(postgres.url, 'bench_main');
    await withClient(withDatabase(postgres.url, 'bench_main'), (c) => c.query(tenantTablesSql('main')));
    const databases: DatabaseFacts[] = [];
    for (const schemas of [settings.compare, settings.schemas]) {
      const name = scaleDb(schemas);
      log(`creating ${schemas} tenant schemas in ${name}`);
      const t0 = performance.now();
      created.push(name);
      await recreateDatabase(postgres.url, name);
      await createTenantSchemas(withDatabase(postgres.url, name), schemas, { parallel: 2, log });
      const facts = await databaseFacts(withDatabase(postgres.url, name), name, schemas, round((performance.now() - t0) / 1000, 0));
      databases.push(facts);
      log(`${name}: ${facts.schemas} schemas, ${facts.relations} relations, ${facts.sizeMb} MB, created in ${facts.createS} s`);
    }
    const urls = { main: withDatabase(postgres.url, 'bench_main'), small: withDatabase(postgres.url, scaleDb(settings.compare)), large: withDatabase(postgres.url, scaleDb(settings.schemas)) };
    const scenarios = scaleScenarios(settings, urls);
    const probe = new pg.Client({ connectionString: postgres.url });
    await probe.connect();
    const measurements: Measurement[] = [];
    let pgMemory = false;
    try {
      pgMemory = await canReadBackendMemory(probe);
      if (!pgMemory) log('PostgreSQL backends\' memory is not readable from /proc here (PostgreSQL on another machine?): not measured');
      const unused = {} as BenchDatabases; // scale scenarios carry their own URLs
      for (let rep = 0; rep < settings.reps; rep++) {
        for (const [index, scenario] of orderForRepetition(scenarios, rep).entries()) {
          const m = await measureScenario(scenario, unused, settings, probe, { rep, order: index }, { pgMemory });
          measurements.push(m);
          log(
            `rep ${rep + 1}/${settings.reps} ${scenario.id.padEnd(34)} ${m.reqPerSec.toFixed(0).padStart(6)} req/s  p99 ${m.p99Ms} ms  ${m.cpuUsPerReq} µs CPU/req  ` +
              `RSS ${m.rssEndMb} MB (peak ${m.peakRssMb})  PG ${m.peakPgConnections} conns, ${m.pgBackendsMb ?? 'n/a'} MB (peak ${m.pgBackendsPeakMb ?? 'n/a'})  errors ${m.errors}`,
          );
        }
      }
    } finally {
      await probe.end();
    }
    const { resultsDir, ...method } = settings;
    const results: ScaleResults = {
      date: started.toISOString(),
      finished: new Date().toISOString(),
      wallS: Math.round((performance.now() - wallStart) / 1000),
      environment: { ...environmentFacts(), postgres: { ...pgFacts, embedded: postgres.embedded } },
      method: { ...method, pgMemory },
      databases,
      scenarios: scenarios.map(({ id, title, workload, baseline, tenants }) => ({ id, title, workload, baseline, tenants })),
      measurements,
    };
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'scale.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(resultsDir, 'scale.md'), renderScale(results));
    log(`wrote ${join(resultsDir, 'scale.md')} and scale.json`);
  } finally {
    await cleanup();
    log(`bench:scale finished in ${formatWall((performance.now() - wallStart) / 1000)} (wall time)`);
  }
}

const f = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const signed = (value: number, digits = 0): string => (Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(digits)}` : 'n/a');

function renderScale(results: ScaleResults): string {
  const { method, environment: env } = results;
  const m = results.measurements;
  const lines: string[] = [];
  const push = (...more: string[]): void => void lines.push(...more);
  const spreads = results.scenarios.map((s) => ({ s, spread: noiseOf(m, s.id, s.baseline, method.noiseCv) }));
  const large = (w: Workload) => `10-scale-${w === 'relational' ? 'rel-' : ''}schema-${method.schemas}-express`;
  const small = (w: Workload) => `10-scale-${w === 'relational' ? 'rel-' : ''}schema-${method.compare}-express`;
  // the large-vs-small comparison must agree over the repetitions too
  for (const w of ['findOne', 'relational'] as const) spreads.push({ s: { ...results.scenarios.find((s) => s.id === large(w))!, baseline: small(w) }, spread: noiseOf(m, large(w), small(w), method.noiseCv) });
  const noisy = spreads.filter((x) => x.spread.noisy);
  push(`# Scale run: ${method.schemas.toLocaleString('en')} tenant schemas against ${method.compare.toLocaleString('en')}`, '');
  if (noisy.length) {
    push(`> **Noisy run, not a result.** ${noisy.map((x) => `${x.s.id} vs ${x.s.baseline} (${x.spread.reason})`).join(', ')}: repetitions disagree beyond the threshold (coefficient of variation of the per-repetition req/s ratios > ${f(method.noiseCv * 100)}%), ran once, or completed fewer than ${MIN_REQUESTS} requests in a window.`, '');
  }
  if (!method.full) push('> **Not a full scale run** (smaller than the defaults): written to bench/results/quick/.', '');
  push(
    `Run ${results.date} → ${results.finished} (wall time ${formatWall(results.wallS)}). Produced by \`npm run bench:scale\`; every figure in \`scale.json\`.`,
    '',
    `- ${env.cpuModel}, ${env.cores} cores, ${env.ramGb} GB RAM, ${env.os}; Node ${env.node}; PostgreSQL ${env.postgres.version} (${env.postgres.embedded ? 'embedded, fsync off' : 'DATABASE_URL'}, max_connections ${env.postgres.maxConnections})`,
    `- Each scenario: its own server process, autocannon with ${method.connections} connections, ${method.warmupS} s warm-up then ${method.durationS} s measured, ${method.reps} repetition(s) in alternating order; medians. Routing picks a tenant at random among all the database's schemas per request; the library's one pool has 10 connections, so each PostgreSQL backend caches the catalog entries and plans of the schemas its requests touched.`,
    '- Schemas created with plain SQL from one template (item table + the relational model, seeded; 50 schemas per transaction over 2 connections), not through TenantLifecycle.create, which would run the migrator per tenant: this run measures serving. The databases are dropped at the end.',
    `- Memory: Node RSS of the app server at the end of the window (and its peak, boot included); PostgreSQL: the private resident memory (RssAnon of /proc/<pid>/status) of the server's backends summed, at the end of the window and at its highest.${method.pgMemory ? '' : ' **Not readable in this run.**'}`,
    '',
    '## Databases',
    '',
    '| Database | schemas | relations (pg_class) | size MB | created in |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.databases.map((d) => `| ${d.name} | ${d.schemas} | ${d.relations} | ${d.sizeMb} | ${formatWall(d.createS)} |`),
    '',
    '## Scenarios (medians)',
    '',
    '| Scenario | req/s | p99 ms | CPU µs/req | errors | req/s vs baseline | CPU µs vs baseline | spread | Node RSS MB end / peak | PG backends MB end / highest | per connection |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  );
  for (const s of results.scenarios) {
    const med = medians(m, s.id);
    if (!med.reps) continue;
    const spread = noiseOf(m, s.id, s.baseline, method.noiseCv);
    push(
      `| ${s.title} | ${f(med.reqPerSec)} | ${f(med.p99Ms, 1)} | ${f(med.cpuUsPerReq)} | ${med.errors} | ${f(ratio(m, s.id, s.baseline, 'reqPerSec'), 2)}x | ${signed(delta(m, s.id, s.baseline, 'cpuUsPerReq'))} | ${s.id === s.baseline && !spread.noisy ? '(reference)' : spread.noisy ? `**noisy, not a result** (${spread.reason})` : `CV ${f(spread.cv * 100)}%`} | ${f(med.rssEndMb)} / ${f(med.peakRssMb)} | ${f(med.pgBackendsMb)} / ${f(med.pgBackendsPeakMb)} | ${f(med.pgBackendsMb / med.peakPgConnections, 1)} |`,
    );
  }
  push('', `## ${method.schemas.toLocaleString('en')} against ${method.compare.toLocaleString('en')} schemas`, '', '| Workload | req/s | p99 | CPU µs/req | Node RSS end | PG backends\' memory, end | all requests answered 2xx | Node RSS within +50 MB |', '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const w of ['findOne', 'relational'] as const) {
    const [big, base] = [large(w), small(w)];
    if (!medians(m, big).reps || !medians(m, base).reps) continue;
    const errors = medians(m, big).errors;
    const rss = delta(m, big, base, 'rssEndMb');
    const noise = noiseOf(m, big, base, method.noiseCv);
    push(
      `| ${w} | ${f(ratio(m, big, base, 'reqPerSec'), 2)}x${noise.noisy ? ' (**noisy, not a result**)' : ''} | ${f(ratio(m, big, base, 'p99Ms'), 2)}x | ${signed(delta(m, big, base, 'cpuUsPerReq'))} | ${signed(rss, 1)} MB | ${f(medians(m, big).pgBackendsMb)} vs ${f(medians(m, base).pgBackendsMb)} MB (${f(ratio(m, big, base, 'pgBackendsMb'), 2)}x) | ${errors === 0 ? '**met**' : `**not met** (${errors} errors)`} | ${rss <= 50 ? '**met**' : '**not met**'} |`,
    );
  }
  push('');
  return lines.join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:scale failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
