import { execFile, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { recreateDatabase, withClient, withDatabase } from '../databases.js';
import { round } from '../measure.js';
import type { CliLoopResult, FanOutResult, MigrationResults } from '../results.js';
import { tenantSchemaName } from '../scenarios.js';
import type { BenchSettings } from '../settings.js';
import type { FanOutOutcome, FanOutRequest } from './fan-out-main.js';
import { MIGRATION_SET_SIZE } from './migration-config.js';

const FAN_OUT_ENTRY = fileURLToPath(new URL('./fan-out-main.ts', import.meta.url));
const CLI_CONFIG = fileURLToPath(new URL('./mikro-orm.config.ts', import.meta.url));
const MIGRATION_DB = 'bench_migrations';

const ids = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);

/**
 * The migration benchmark: the migration set (migrations/tenant) applied to N fresh tenant schemas by the library's fan-out at each
 * concurrency (each run on a freshly created database, in its own process), then MikroORM's CLI started once per
 * schema on a few schemas, the way a shell loop over tenants would do it.
 */
export async function runMigrationBench(adminUrl: string, settings: BenchSettings, log: (line: string) => void): Promise<MigrationResults> {
  const url = withDatabase(adminUrl, MIGRATION_DB);
  const fanOut: FanOutResult[] = [];
  for (const tenants of settings.fanOutTenants) {
    for (const concurrency of settings.fanOutConcurrency) {
      await recreateDatabase(adminUrl, MIGRATION_DB);
      const outcome = await runFanOut({ url, tenantIds: ids('m', tenants), concurrency });
      if (!outcome.ok) throw new Error(`fan-out over ${tenants} schemas at concurrency ${concurrency} failed: ${outcome.error}`);
      const result: FanOutResult = { ...outcome, tenants, concurrency, msPerTenant: round(outcome.migrateMs / tenants, 2) };
      fanOut.push(result);
      log(`fan-out ${tenants} schemas, concurrency ${concurrency}: ${outcome.migrateMs} ms (${result.msPerTenant} ms/tenant, boot ${outcome.bootMs} ms)`);
    }
  }
  const cli = await runCliLoop(adminUrl, url, settings.cliSchemas, log);
  return { migrationsPerTenant: MIGRATION_SET_SIZE, fanOut, cli };
}

function runFanOut(request: FanOutRequest): Promise<FanOutOutcome> {
  return new Promise((resolve, reject) => {
    const child = fork(FAN_OUT_ENTRY, [], {
      execArgv: ['--import', '@swc-node/register/esm-register'],
      env: { ...process.env, BENCH_FANOUT: JSON.stringify(request) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    let outcome: FanOutOutcome | undefined;
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('message', (message: FanOutOutcome) => (outcome = message));
    child.once('error', reject);
    child.once('exit', (code) => (outcome ? resolve(outcome) : reject(new Error(`fan-out process exited with ${code}\n${stderr}`))));
  });
}

/** `mikro-orm migration:up --schema X` once per schema (node + the CLI's entry directly: npx would only add time). */
async function runCliLoop(adminUrl: string, url: string, schemas: number, log: (line: string) => void): Promise<CliLoopResult> {
  await recreateDatabase(adminUrl, MIGRATION_DB);
  const names = ids('c', schemas).map(tenantSchemaName);
  // the CLI does not create the schema; made up front, so this loop is timed on migrating alone
  await withClient(url, (client) => client.query(names.map((s) => `create schema "${s}";`).join(' ')));
  // the package exports only its index: cli.js (its bin) sits next to it
  const cli = join(dirname(createRequire(import.meta.url).resolve('@mikro-orm/cli')), 'cli.js');
  const run = promisify(execFile);
  const perSchemaMs: number[] = [];
  const started = performance.now();
  for (const schema of names) {
    const t0 = performance.now();
    await run(process.execPath, [cli, 'migration:up', '--schema', schema, '--config', CLI_CONFIG], {
      env: { ...process.env, BENCH_MIGRATION_URL: url, MIKRO_ORM_CLI_TS_LOADER: 'swc' },
    });
    perSchemaMs.push(Math.round(performance.now() - t0));
  }
  const totalMs = Math.round(performance.now() - started);
  const applied = await withClient(url, async (client) => {
    // the first and the last migration of the set both applied, in every schema
    const rows = await client.query<{ n: string }>(
      `select count(*) as n from information_schema.columns c join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = 'article_tags'
        where c.table_name = 'item' and c.column_name = 'created_at' and c.table_schema like 'tenant_c%'`,
    );
    return Number(rows.rows[0]?.n ?? 0);
  });
  if (applied !== schemas) throw new Error(`the CLI loop migrated ${applied} of ${schemas} schemas`);
  const result: CliLoopResult = { schemas, totalMs, msPerSchema: round(totalMs / schemas, 1), perSchemaMs };
  log(`CLI loop over ${schemas} schemas: ${totalMs} ms (${result.msPerSchema} ms/schema)`);
  return result;
}
