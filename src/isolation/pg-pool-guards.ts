import { RowLevelSecurityViolationException } from '@mikro-orm/core';
import { DatabaseConnectionFailure, type UnavailableDatabase, databaseUnavailableReason } from '../errors/database-unavailable.error.js';
import type { ContextConfig } from '../options/tenancy-options.js';
import { databaseNameOf } from '../options/database-name.js';

/** How long a query waits for a pooled PostgreSQL connection when the config does not say. */
const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;

/** The parts of node-postgres' Pool and Client this file relies on. */
interface PgClient {
  release(error?: Error): void;
  once(event: 'end', listener: () => void): unknown;
  query(...args: unknown[]): unknown;
}
interface PgPool {
  on(event: 'connect', listener: (client: PgClient) => void): unknown;
  connect(...args: unknown[]): unknown;
}

/**
 * Three guards for every PostgreSQL pool the module creates (static contexts and tenant ORMs), added through
 * MikroORM's `driverOptions` and only where the user has not decided otherwise:
 *
 * - A bounded wait for a pooled connection (`connectionTimeoutMillis`): node-postgres otherwise waits forever, so
 *   a slow-query storm would hang every request. The wait then fails with "timeout exceeded when trying to
 *   connect", which requests answer with a 503 (DatabaseUnavailableError).
 * - Dead connections go back to the pool (see releaseEndedClients).
 * - "Database unavailable" errors become DatabaseConnectionFailure (see convertUnavailableErrors).
 *
 * driverOptions that are not a plain object (a Kysely dialect or instance) are left alone.
 */
export function withPgPoolGuards<C extends ContextConfig>(config: C, timeoutMs = DEFAULT_CONNECTION_TIMEOUT_MS): C {
  const where: UnavailableDatabase = { contextName: config.contextName, database: databaseNameOf(config) };
  if (!isPostgreSqlDriver(config.driver)) return config;
  const driverOptions = (config.driverOptions ?? {}) as Record<string, unknown>;
  if (Object.getPrototypeOf(driverOptions) !== Object.prototype) return config;
  const userOnPoolCreated = driverOptions.onPoolCreated as ((pool: PgPool) => unknown) | undefined;
  return {
    ...config,
    driverOptions: {
      connectionTimeoutMillis: timeoutMs,
      ...driverOptions,
      onPoolCreated: (pool: PgPool) => {
        releaseEndedClients(pool);
        convertUnavailableErrors(pool, where);
        return userOnPoolCreated?.(pool);
      },
    },
  };
}

/**
 * Kysely (0.29, under MikroORM 7) releases a transaction's connection only after a *successful* begin, commit or
 * rollback. When the server goes away mid-transaction none of them succeeds, so that pool slot is lost for good:
 * after a database restart the pool stays full of dead connections, every query waits for the pool timeout, and
 * `orm.close()` never resolves. So a checked-out client whose connection ends is released, as broken, which makes
 * the pool drop it; a later release of the same client by its holder is ignored instead of throwing.
 *
 * pg-pool assigns a fresh `client.release` on every checkout; an accessor keeps it and hands out one idempotent
 * release per client, so a checkout costs no extra allocation or event.
 */
function releaseEndedClients(pool: PgPool): void {
  pool.on('connect', (client) => {
    let checkoutRelease: ((error?: Error) => void) | undefined; // set while the client is checked out
    const release = (error?: Error): void => {
      const current = checkoutRelease;
      checkoutRelease = undefined;
      current?.(error);
    };
    Object.defineProperty(client, 'release', {
      configurable: true,
      get: () => release,
      set: (fromPool: (error?: Error) => void) => void (checkoutRelease = fromPool),
    });
    client.once('end', () => release(new Error('the connection to PostgreSQL ended while checked out')));
  });
}

/**
 * Rejections of the pool's `connect()` and of every client's `query()` that mean "database unavailable" (refused,
 * lost, timed out, shutting down...) become a DatabaseConnectionFailure, which the module's exception filter answers
 * with a 503. Doing it here rather than in a global interceptor keeps successful requests free of any cost.
 */
function convertUnavailableErrors(pool: PgPool, where: UnavailableDatabase): void {
  const connect = pool.connect.bind(pool);
  pool.connect = (...args: unknown[]) => (args.length ? connect(...args) : convertRejection(connect(), where));
  pool.on('connect', (client) => {
    const query = client.query.bind(client);
    // node-postgres' query(config, values, callback): explicit parameters, no rest array per statement
    client.query = (config: unknown, values?: unknown, callback?: unknown) => convertRejection(query(config, values, callback), where);
  });
}

function convertRejection(result: unknown, where: UnavailableDatabase): unknown {
  if (typeof (result as Promise<unknown> | undefined)?.catch !== 'function') return result; // callback style, or a cursor
  return (result as Promise<unknown>).catch((error: unknown) => {
    // MikroORM converts driver errors in its driver, but a QueryBuilder's execute() reaches the connection directly:
    // a row-level security refusal must be the same exception on every path (answered 403, see DatabaseUnavailableMapper)
    if (isRowLevelSecurityRefusal(error)) throw new RowLevelSecurityViolationException(error as Error);
    const reason = databaseUnavailableReason(error);
    throw reason === undefined ? error : new DatabaseConnectionFailure(reason, error, where);
  });
}

/** PostgreSQL's "new row violates row-level security policy" (SQLSTATE 42501, which also means "permission denied"). */
function isRowLevelSecurityRefusal(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === '42501' && typeof message === 'string' && message.includes('row-level security');
}

/** Whether a driver class is MikroORM's PostgreSQL driver or a subclass of it (the tenant schema driver is one). */
export function isPostgreSqlDriver(driver: ContextConfig['driver']): boolean {
  for (let cls: unknown = driver; typeof cls === 'function'; cls = Object.getPrototypeOf(cls)) {
    if ((cls as { name: string }).name.includes('PostgreSql')) return true;
  }
  return false;
}
