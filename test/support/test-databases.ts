/** Real PostgreSQL databases for one test file: created with this run's prefix, dropped afterwards. */
import pg from 'pg';

export function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (its global setup starts PostgreSQL)');
  return url;
}

/** A unique, prefixed database or schema name for this run. */
export function uniqueName(label: string): string {
  return `${process.env.TEST_RUN_PREFIX ?? 'nmt'}_${label}_${Math.random().toString(36).slice(2, 8)}`;
}

/** URL of `dbName` on the test server. */
export function databaseUrl(dbName: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${dbName}`;
  return url.toString();
}

/** host/port/user/password/dbName options for a MikroORM config (dbName stays overridable, unlike clientUrl). */
export function connectionOptions(dbName: string): { host: string; port: number; user: string; password?: string; dbName: string } {
  const url = new URL(serverUrl());
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || 'postgres'),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    dbName,
  };
}

/** Runs SQL on one database of the test server with a short-lived connection. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(dbName: string, text: string, values?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: databaseUrl(dbName) });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export class TestDatabases {
  readonly #created: string[] = [];

  async create(label: string): Promise<string> {
    const name = uniqueName(label);
    await sql('postgres', `create database "${name}"`);
    this.#created.push(name);
    return name;
  }

  /** Remembers a database made by the code under test, so it is dropped too. */
  track(name: string): void {
    this.#created.push(name);
  }

  /**
   * Drops every database this file made: those from create() and track(), and those whose name starts with one of
   * `prefixes` (tenant databases made by the code under test).
   */
  async dropAll(...prefixes: string[]): Promise<void> {
    for (const prefix of prefixes) {
      const made = await sql<{ datname: string }>('postgres', 'select datname from pg_database where starts_with(datname, $1)', [prefix]);
      for (const { datname } of made) this.track(datname);
    }
    for (const name of this.#created.splice(0)) {
      await sql('postgres', `drop database if exists "${name}" with (force)`);
    }
  }
}

/**
 * Client connections currently open to the given databases (our apps' connections), including those still
 * authenticating. Not the server's own processes that show up under a database name too: an autovacuum worker visits
 * every database in turn, and would count as one more connection of whichever app's database it is visiting.
 */
export async function connectionsTo(dbNames: string[]): Promise<number> {
  const rows = await sql<{ n: string }>(
    'postgres',
    "select count(*)::text as n from pg_stat_activity where datname = any($1) and backend_type = 'client backend' and pid <> pg_backend_pid()",
    [dbNames],
  );
  return Number(rows[0]?.n ?? 0);
}
