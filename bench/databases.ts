import pg from 'pg';
import { itemTableSql, seedItemsSql } from './entities.js';
import { type BenchDatabases, CHURN, MAX_SCHEMA_TENANTS, WARM, tenantDatabaseName, tenantId, tenantSchemaName } from './scenarios.js';
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

/**
 * Every database the HTTP scenarios use, made once per run (and re-made from scratch, so runs never see each
 * other's inserts): one `item` table with SEEDED_ROWS rows in bench_main and bench_secondary, in each of
 * MAX_SCHEMA_TENANTS schemas of bench_schemas, and in each of the tenant databases (copies of a template).
 */
export async function prepareDatabases(adminUrl: string, log: (line: string) => void): Promise<BenchDatabases> {
  for (const name of ['bench_main', 'bench_secondary']) {
    await recreateDatabase(adminUrl, name);
    await withClient(withDatabase(adminUrl, name), (c) => c.query(itemTableSql() + seedItemsSql(SEEDED_ROWS, 'main')));
  }

  log(`creating ${MAX_SCHEMA_TENANTS} tenant schemas`);
  await recreateDatabase(adminUrl, 'bench_schemas');
  await withClient(withDatabase(adminUrl, 'bench_schemas'), async (client) => {
    const batch = 50; // one round-trip per 50 schemas; a single 1000-schema statement would hold too many locks
    for (let first = 1; first <= MAX_SCHEMA_TENANTS; first += batch) {
      const sql: string[] = [];
      for (let n = first; n < first + batch && n <= MAX_SCHEMA_TENANTS; n++) {
        const schema = tenantSchemaName(tenantId(n));
        sql.push(`create schema "${schema}";`, itemTableSql(schema), seedItemsSql(SEEDED_ROWS, tenantId(n), schema));
      }
      await client.query(`begin; ${sql.join(' ')} commit;`);
    }
  });

  const databases = Math.max(CHURN.tenants, WARM.tenants);
  log(`creating ${databases} tenant databases`);
  await recreateDatabase(adminUrl, 'bench_db_template');
  await withClient(withDatabase(adminUrl, 'bench_db_template'), (c) => c.query(itemTableSql() + seedItemsSql(SEEDED_ROWS, 'template')));
  for (let n = 1; n <= databases; n++) await recreateDatabase(adminUrl, tenantDatabaseName(tenantId(n)), 'bench_db_template');

  return {
    main: withDatabase(adminUrl, 'bench_main'),
    secondary: withDatabase(adminUrl, 'bench_secondary'),
    schemas: withDatabase(adminUrl, 'bench_schemas'),
    server: adminUrl,
  };
}

/** Peak-connection probe: client backends connected to databases matching `pattern` (LIKE). */
export async function countConnections(client: pg.Client, pattern: string): Promise<number> {
  const result = await client.query<{ n: string }>(
    "select count(*) as n from pg_stat_activity where backend_type = 'client backend' and datname like $1 and pid <> pg_backend_pid()",
    [pattern],
  );
  return Number(result.rows[0]?.n ?? 0);
}

/** PostgreSQL's version and max_connections, for the report. */
export async function serverFacts(adminUrl: string): Promise<{ version: string; maxConnections: number }> {
  return withClient(adminUrl, async (client) => {
    const version = (await client.query<{ v: string }>('show server_version')).rows[0]?.v ?? 'unknown';
    const max = (await client.query<{ v: string }>('show max_connections')).rows[0]?.v ?? '0';
    return { version, maxConnections: Number(max) };
  });
}
