/**
 * A real PgBouncer (the Debian package's /usr/sbin/pgbouncer) in front of the test PostgreSQL (TEST_DATABASE_URL),
 * in transaction mode with a small pool, for test/reliability/pgbouncer.rel-spec.ts. Each instance has its own temp
 * dir, config, auth file and free port; its log (PgBouncer's stderr) is kept in memory and printed when a test fails.
 *
 * Also the app behind it (`pgBouncerAppOptions`, and `PgBouncerCliAppModule` for the CLI), configured the way
 * docs/production.md tells users to: every context connects to PgBouncer, the tenant context with a role of its own,
 * and only the session that listens for tenant changes goes to PostgreSQL directly.
 * In schema mode that role's `search_path` is set on the role (PgBouncer does not pass the startup option the
 * library sets it with), and PgBouncer ignores that startup option instead of refusing the connection.
 */
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type MikroTenancyModuleOptions, type TenantIsolation, TenantStores } from '../../../src/index.js';
import { cliAppModule, requiredEnv } from '../../fixtures/cli-app.js';
import { Note } from '../../fixtures/entities/note.entity.js';
import { Tenant } from '../../fixtures/entities/tenant.entity.js';
import { serverUrl } from '../../support/test-databases.js';

/** Where the Debian package installs it (not on a non-root PATH). */
const PGBOUNCER_BINARY = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'].find((path) => existsSync(path)) ?? 'pgbouncer';

export interface PgBouncerOptions {
  /** `default_pool_size`: server connections per (database, user) pair. */
  poolSize: number;
  /**
   * Users PgBouncer lets in (auth_type trust), with the password it logs in to PostgreSQL with, if any, and the
   * user's `max_user_connections` (server connections over every database, e.g. every tenant database).
   */
  users: { name: string; password?: string; maxUserConnections?: number }[];
  /** `ignore_startup_parameters` (docs/production.md: `options`, for schema mode). */
  ignoreStartupParameters?: string[];
}

export interface PgBouncer {
  readonly host: string;
  readonly port: number;
  /** Connection options of a MikroORM config that reach `dbName` as `user` through PgBouncer. */
  connection(dbName: string, user: string): { host: string; port: number; user: string; password?: string; dbName: string };
  /** Everything PgBouncer logged so far. */
  log(): string;
  /** Whether the process is still running. */
  readonly running: boolean;
  stop(): Promise<void>;
}

/** The test PostgreSQL's host, port, user and password (TEST_DATABASE_URL). */
export function serverCredentials(): { host: string; port: number; user: string; password?: string } {
  const url = new URL(serverUrl());
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || 'postgres'),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const server = serverCredentials();
  const dir = mkdtempSync(join(tmpdir(), 'nmt-pgbouncer-'));
  const port = await freePort();
  const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;
  const passwords = new Map(options.users.map((user) => [user.name, user.password]));
  writeFileSync(join(dir, 'userlist.txt'), options.users.map((user) => `${quote(user.name)} ${quote(user.password ?? '')}\n`).join(''), { mode: 0o644 });
  const config = [
    '[databases]',
    // every database name, tenant databases included, goes to the test server as the connecting user
    `* = host=${server.host} port=${server.port}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${options.poolSize}`,
    'min_pool_size = 0',
    'reserve_pool_size = 0',
    'max_client_conn = 2000',
    ...(options.ignoreStartupParameters?.length ? [`ignore_startup_parameters = ${options.ignoreStartupParameters.join(',')}`] : []),
    // a failed server login (e.g. a database just dropped) is retried after 1 s, not the default 15 s
    'server_login_retry = 1',
    'log_connections = 0',
    'log_disconnections = 0',
    '',
    '[users]',
    ...options.users.filter((user) => user.maxUserConnections).map((user) => `${user.name} = max_user_connections=${user.maxUserConnections}`),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), config, { mode: 0o644 });
  // PgBouncer refuses to run as root: as root, drop to the OS user the embedded PostgreSQL runs as
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dir, 0o755);
  const args = [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = spawn(PGBOUNCER_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = `$ ${PGBOUNCER_BINARY} ${args.join(' ')}\n${config}\n`;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.on('error', (error) => {
      log += `spawn error: ${error.message}\n`;
      exited = true;
      resolve();
    });
    child.on('close', (code, signal) => {
      log += `pgbouncer exited (code ${code}, signal ${signal})\n`;
      exited = true;
      resolve();
    });
  });

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM'); // immediate shutdown: every client and server connection is closed
      const stillRunning = await Promise.race([exit.then(() => false), sleep(5_000, true, { ref: false })]);
      if (stillRunning) {
        child.kill('SIGKILL');
        await exit;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (!(await accepts('127.0.0.1', port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`PgBouncer did not start listening on 127.0.0.1:${port} (not installed? .ci/run installs the Debian package pgbouncer). Its log:\n${log}`);
    }
    await sleep(50);
  }

  return {
    host: '127.0.0.1',
    port,
    connection: (dbName, user) => {
      const password = passwords.get(user);
      return { host: '127.0.0.1', port, user, ...(password ? { password } : {}), dbName };
    },
    log: () => log,
    get running() {
      return !exited;
    },
    stop,
  };
}

/** Runs `fn`; when it throws, prints the last lines of PgBouncer's log first (then rethrows). */
export async function withPgBouncerLogOnFailure<R>(bouncer: PgBouncer, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (error) {
    const lines = bouncer.log().trimEnd().split('\n');
    process.stdout.write(`[pgbouncer] the test failed; the last ${Math.min(lines.length, 80)} lines of PgBouncer's log:\n  ${lines.slice(-80).join('\n  ')}\n`);
    throw error;
  }
}

/**
 * `promise`, or an error once `ms` have passed: only to turn a hang into a failure that says what hung (the bound is
 * generous, never a duration the test expects).
 */
export async function orHang<R>(what: string, ms: number, promise: Promise<R>): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms: it hangs`)), ms);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The app behind PgBouncer

export const TENANT_MIGRATIONS = fileURLToPath(new URL('../../fixtures/migrations/tenant-slow', import.meta.url));
const HUB_MIGRATIONS = fileURLToPath(new URL('../../fixtures/migrations/hub', import.meta.url));

export interface PgBouncerAppSetup {
  isolation: TenantIsolation;
  /** PgBouncer's address. */
  host: string;
  port: number;
  /** Hub database: the tenant table and (schema mode) every tenant schema. Database mode: also the template's. */
  hubDb: string;
  /** Role of the hub context. */
  hubUser: string;
  hubPassword?: string;
  /** The tenant context's role (schema mode: with `search_path` set on it; database mode: may create databases). */
  tenantUser: string;
  tenantPassword?: string;
  /** Database mode: tenant databases are `${databasePrefix}_${id}`. */
  databasePrefix: string;
  /** PostgreSQL itself, for the session that LISTENs for tenant changes (LISTEN does not work through PgBouncer). */
  listen: { host: string; port: number };
}

/**
 * The lifecycle app's contexts (hub: the tenant table; tenant: notes, migrated from the committed migrations whose
 * second one sleeps 200 ms), every connection through PgBouncer. New tenants are seeded with one note.
 */
export function pgBouncerAppOptions(setup: PgBouncerAppSetup): MikroTenancyModuleOptions {
  const common = { metadataProvider: ReflectMetadataProvider, debug: false, host: setup.host, port: setup.port } as const;
  const hub = { user: setup.hubUser, ...(setup.hubPassword ? { password: setup.hubPassword } : {}) };
  const tenant = { user: setup.tenantUser, ...(setup.tenantPassword ? { password: setup.tenantPassword } : {}) };
  return {
    contexts: {
      hub: defineConfig({ ...common, ...hub, dbName: setup.hubDb, entities: [Tenant], pool: { max: 3 }, migrations: { path: HUB_MIGRATIONS, snapshot: false } }),
    },
    tenancy: {
      isolation: setup.isolation,
      store: TenantStores.table(Tenant, { context: 'hub' }),
      config: defineConfig({
        ...common,
        ...tenant,
        dbName: setup.hubDb,
        entities: [Note],
        pool: { max: 4 },
        migrations: { path: TENANT_MIGRATIONS, snapshotName: '.snapshot-tenant' },
      }),
      database: (record) => ({ dbName: `${setup.databasePrefix}_${record.id}` }),
      pool: { maxOpenTenants: 8, connectionsPerTenant: 2 },
      seed: (em, record) => em.create(Note, { title: 'seeded', marker: record.id }),
      // docs/production.md, "Several app instances": the listening session goes to PostgreSQL directly
      changes: { listen: setup.listen },
    },
  };
}

/** The CLI's module (`--module test/reliability/support/pgbouncer.ts#PgBouncerCliAppModule`), set up from PGB_SETUP (JSON). */
export const PgBouncerCliAppModule = cliAppModule({
  contexts: ['hub'],
  options: () => pgBouncerAppOptions(JSON.parse(requiredEnv('PGB_SETUP')) as PgBouncerAppSetup),
});
