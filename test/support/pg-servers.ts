/**
 * Several PostgreSQL servers for tests of `tenancy.servers`: the test server (TEST_DATABASE_URL) plus extra embedded
 * clusters started here, each on a free port, removed by `stop()`.
 */
import pg from 'pg';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/embedded-postgres.js';
import { serverUrl } from './test-databases.js';

export interface TestPgServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(dbName: string, text: string, values?: unknown[]): Promise<R[]>;
  /** Extra clusters only: stop (keeping data and port) and start again. */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
}

export interface TestPgServers {
  readonly servers: TestPgServer[];
  stop(): Promise<void>;
}

/** The test server named `names[0]`, and a fresh embedded cluster for each other name. */
export async function startPgServers(names: string[], settings?: Record<string, string | number>): Promise<TestPgServers> {
  const [firstName, ...others] = names;
  const embedded: EmbeddedPostgres[] = [];
  const servers: TestPgServer[] = [serverOf(firstName as string, serverUrl())];
  try {
    for (const name of others) {
      const started = await startEmbeddedPostgres({ settings });
      embedded.push(started);
      servers.push({ ...serverOf(name, started.url), pause: () => started.pause(), resume: () => started.resume() });
    }
  } catch (error) {
    await Promise.all(embedded.map((server) => server.stop()));
    throw error;
  }
  return { servers, stop: async () => void (await Promise.all(embedded.map((server) => server.stop()))) };
}

function serverOf(name: string, url: string): TestPgServer {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username || 'postgres');
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const host = parsed.hostname;
  const port = Number(parsed.port || 5432);
  return {
    name,
    host,
    port,
    user,
    ...(password !== undefined ? { password } : {}),
    sql: async (dbName, text, values) => {
      const client = new pg.Client({ host, port, user, password, database: dbName });
      await client.connect();
      try {
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    },
  };
}
