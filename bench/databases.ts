import { readFileSync } from 'node:fs';
import pg from 'pg';
import { itemTableSql, relationalTablesSql, remarkSql, seedItemsSql, seedRelationalSql } from './entities.js';
import { type BenchDatabases, type StorageNeeds, tenantDatabaseName, tenantId, tenantSchemaName } from './scenarios.js';
import { PAIRED_REFERENCE_APP } from './paired.js';
import { asSharedAppRole, createSharedTables } from './shared-tables.js';
import { SEEDED_ROWS } from './settings.js';

/** Replaces the database name of a PostgreSQL URL. */
export function withDatabase(url: string, dbName: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${dbName}`;
  return parsed.toString();
}

export async function withClient<R>(url: string, fn: (client: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops (if present) and creates a database; `template` copies a prepared one, which is far faster than DDL. */
export async function recreateDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    await client.query(`drop database if exists "${name}" with (force)`);
    await client.query(`create database "${name}"${template ? ` template "${template}"` : ''}`);
  });
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, (client) => client.query(`drop database if exists "${name}" with (force)`));
}

/** Every table of one tenant (the findOne `item` table and the relational model), seeded, in the current schema or `schema`. */
export function tenantTablesSql(marker: string, schema?: string): string {
  return [itemTableSql(schema), seedItemsSql(SEEDED_ROWS, marker, schema), relationalTablesSql(schema), seedRelationalSql(marker, schema)].join(' ');
}

/**
 * Creates tenant schemas `first..last` (tenantSchemaName(tenantId(n))) with every table, seeded, in the database at
 * `url`: plain SQL, one statement text per schema rendered from one template (tenantTablesSql), 50 schemas per
 * transaction (a single huge one would hold too many locks), over `parallel` connections. Far faster than migrating
 * each schema (no migrator, no per-tenant round trips), and the tables are the migration set's (entities.ts).
 */
export async function createTenantSchemas(
  url: string,
  count: number,
  options: { first?: number; parallel?: number; log?: (line: string) => void } = {},
): Promise<void> {
  const first = options.first ?? 1;
  const last = first + count - 1;
  const batch = 50;
  const batches: number[] = [];
  for (let start = first; start <= last; start += batch) batches.push(start);
  let done = 0;
  let reported = performance.now();
  const worker = async (): Promise<void> => {
    await withClient(url, async (client) => {
      for (let start = batches.shift(); start !== undefined; start = batches.shift()) {
        const sql: string[] = [];
        for (let n = start; n < start + batch && n <= last; n++) {
          const id = tenantId(n);
          const schema = tenantSchemaName(id);
          sql.push(`create schema "${schema}";`, tenantTablesSql(id, schema));
        }
        await client.query(`begin; ${sql.join(' ')} commit;`);
        done += sql.length / 2;
        if (options.log && performance.now() - reported > 10_000) {
          reported = performance.now();
          options.log(`  ${done} of ${count} schemas`);
        }
      }
    });
  };
  await Promise.all(Array.from({ length: Math.max(1, options.parallel ?? 1) }, worker));
}

/**
 * Every database the HTTP scenarios use, made once per run (and re-made from scratch, so runs never see each
 * other's inserts): the item table (SEEDED_ROWS rows) and the relational model (entities.ts' RELATIONAL) in
 * bench_main, in each of `needs.schemas` schemas of bench_schemas, and in each of `needs.databases` tenant databases
 * (copies of a template, then re-marked as their tenant's); bench_secondary has the item table only. bench_shared
 * (only when `needs.shared`): the tables of every tenant, shared, with row-level security (shared-tables.ts).
 */
export async function prepareDatabases(adminUrl: string, needs: StorageNeeds, log: (line: string) => void): Promise<BenchDatabases> {
  await recreateDatabase(adminUrl, 'bench_main');
  await withClient(withDatabase(adminUrl, 'bench_main'), (c) => c.query(tenantTablesSql('main')));
  await recreateDatabase(adminUrl, 'bench_secondary');
  await withClient(withDatabase(adminUrl, 'bench_secondary'), (c) => c.query(itemTableSql() + seedItemsSql(SEEDED_ROWS, 'secondary')));

  log(`creating ${needs.schemas} tenant schemas`);
  await recreateDatabase(adminUrl, 'bench_schemas');
  await createTenantSchemas(withDatabase(adminUrl, 'bench_schemas'), needs.schemas, { parallel: 2 });

  log(`creating ${needs.databases} tenant databases`);
  await recreateDatabase(adminUrl, 'bench_db_template');
  await withClient(withDatabase(adminUrl, 'bench_db_template'), (c) => c.query(tenantTablesSql('template')));
  for (let n = 1; n <= needs.databases; n++) {
    const id = tenantId(n);
    await recreateDatabase(adminUrl, tenantDatabaseName(id), 'bench_db_template');
    await withClient(withDatabase(adminUrl, tenantDatabaseName(id)), (c) => c.query(remarkSql('template', id)));
  }

  if (needs.shared) {
    log(`creating the shared tables of ${needs.shared} tenants`);
    await recreateDatabase(adminUrl, 'bench_shared');
    await withClient(withDatabase(adminUrl, 'bench_shared'), (c) => createSharedTables(c, needs.shared, SEEDED_ROWS));
  }

  return {
    main: withDatabase(adminUrl, 'bench_main'),
    secondary: withDatabase(adminUrl, 'bench_secondary'),
    schemas: withDatabase(adminUrl, 'bench_schemas'),
    server: adminUrl,
    shared: withDatabase(adminUrl, 'bench_shared'),
    sharedApp: asSharedAppRole(withDatabase(adminUrl, 'bench_shared')),
  };
}

/** Client backends connected to databases matching `pattern` (LIKE), other than the probe's own. */
export async function backendPids(client: pg.Client, pattern: string): Promise<number[]> {
  const result = await client.query<{ pid: number }>(
    "select pid from pg_stat_activity where backend_type = 'client backend' and datname like $1 and pid <> pg_backend_pid() and application_name <> $2",
    [pattern, PAIRED_REFERENCE_APP],
  );
  return result.rows.map((row) => row.pid);
}

/**
 * PostgreSQL's own memory for these backends: the sum of their private resident memory (RssAnon in
 * /proc/<pid>/status: catalog and relation caches, plan caches, work memory; shared buffers are RssShmem and not
 * counted, since every backend maps the same ones), in kB. Works when PostgreSQL runs on this machine (the embedded
 * server, or a local DATABASE_URL) and /proc is readable; undefined otherwise. A backend that exited meanwhile is
 * skipped; a pid that is not a postgres process (a remote server's pid) makes the whole reading undefined.
 */
export function backendsRssAnonKb(pids: number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue; // exited between pg_stat_activity and now, or no /proc: the caller sees 0 of N readable
    }
    if (!/^Name:\s*postgres/m.test(status)) return undefined;
    const kb = /^RssAnon:\s*(\d+)\s*kB/m.exec(status);
    if (!kb) return undefined;
    total += Number(kb[1]);
  }
  return total;
}

/** Whether /proc/<pid>/status of a postgres backend can be read here (PostgreSQL on this machine). */
export async function canReadBackendMemory(client: pg.Client): Promise<boolean> {
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
  const kb = pid === undefined ? undefined : backendsRssAnonKb([pid]);
  return kb !== undefined && kb > 0;
}

/** PostgreSQL's version and max_connections, for the report. */
export async function serverFacts(adminUrl: string): Promise<{ version: string; maxConnections: number }> {
  return withClient(adminUrl, async (client) => {
    const row = (await client.query<{ version: string; max: string }>("select current_setting('server_version') as version, current_setting('max_connections') as max")).rows[0];
    return { version: row?.version ?? 'unknown', maxConnections: Number(row?.max ?? 0) };
  });
}
