import { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { ContextConfig } from '../options/tenancy-options.js';
import { withPoolHook } from './pool-hook.js';
import { isPostgreSqlDriver } from './pg-pool-guards.js';

/**
 * How long closing an ORM waits for PostgreSQL to close its connections before closing them from this side (so a
 * close always ends well within TenantOrmPool's own close timeout, with no connection of the ORM left open).
 */
const CONNECTION_CLOSE_TIMEOUT_MS = 5_000;

/**
 * `MikroORM.init` does not connect; this does, and checks the connection, so a missing database or bad credentials
 * fail here rather than on first query. A half-opened ORM is closed (a failing close is logged).
 *
 * On PostgreSQL, a connection counts against the pool's `max`, and `orm.close()` resolves, only once it is really
 * closed (see ClosedConnectionAccounting), so connection budgets built on pool sizes hold.
 */
export async function openConnectedOrm(
  options: ContextConfig,
  logger: Logger,
  label: string,
  closeTimeoutMs = CONNECTION_CLOSE_TIMEOUT_MS,
): Promise<MikroORM> {
  const orm = await MikroORM.init(withClosedConnectionAccounting(options, logger, label, closeTimeoutMs));
  try {
    await orm.connect();
    const check = await orm.checkConnection();
    if (!check.ok) throw check.error ?? new Error(check.reason);
    return orm;
  } catch (error) {
    await orm.close().catch((closeError: unknown) => logger.warn(`Closing ${label} after a failed open: ${String(closeError)}`));
    throw error;
  }
}

/** The parts of node-postgres' Pool and Client used here. */
interface PgClient {
  end(...args: unknown[]): unknown;
  once(event: 'end', listener: () => void): unknown;
  /** pg's wire connection (absent with pg-native); its socket is destroyed to close a connection from this side. */
  connection?: { stream?: { destroy(): void } };
}
interface PgPool {
  readonly options: { max: number; connectionTimeoutMillis?: number };
  readonly totalCount: number;
  readonly idleCount: number;
  on(event: 'connect', listener: (client: PgClient) => void): unknown;
  connect(...args: unknown[]): unknown;
  end(...args: unknown[]): unknown;
}

function withClosedConnectionAccounting(options: ContextConfig, logger: Logger, label: string, closeTimeoutMs: number): ContextConfig {
  if (!isPostgreSqlDriver(options.driver)) return options;
  const driverOptions = (options.driverOptions ?? {}) as Record<string, unknown>;
  if (Object.getPrototypeOf(driverOptions) !== Object.prototype) return options; // a Kysely dialect or instance: left alone
  return withPoolHook<PgPool>(options, (pool) => new ClosedConnectionAccounting(pool, logger, label, closeTimeoutMs).attach());
}

/**
 * node-postgres lets go of a connection as soon as it has *asked* it to close: `pool.end()` resolves once it has
 * called `client.end()` on every idle connection, without waiting for them to close, and a connection the pool
 * drops (idle timeout, maxUses, broken) stops counting against `max` at once. So an ORM's close returned while its
 * connections were still open, and the pool then gave its slot to a new ORM, which connected while the old
 * connections were still there: one tenant ORM's connections over the `maxOpenTenants x connectionsPerTenant`
 * budget. PostgreSQL closes a connection's socket only once its backend has exited, so here a connection counts from
 * the moment it opens until its socket has closed:
 *
 * - `pool.end()` (so `orm.close()`) resolves only once every connection of the pool has closed. If PostgreSQL has not
 *   closed them within `closeTimeoutMs` (unreachable server, a connection still checked out), their sockets are
 *   destroyed from this side, logged as a warning.
 * - A connection that would bring open plus closing connections over `max` waits for a closing one to close (bounded
 *   by the pool's `connectionTimeoutMillis`, failing like node-postgres' own wait).
 */
class ClosedConnectionAccounting {
  /** Connections opened and not closed yet (their socket is open). */
  readonly #open = new Set<PgClient>();
  /** Those of them the pool has let go of (`client.end()` called). */
  readonly #closing = new Set<PgClient>();
  readonly #onClose = new Set<() => void>();
  #ending = false;

  constructor(
    private readonly pool: PgPool,
    private readonly logger: Logger,
    private readonly label: string,
    private readonly closeTimeoutMs: number,
  ) {}

  attach(): void {
    const { pool } = this;
    pool.on('connect', (client) => this.track(client));
    const connect = pool.connect.bind(pool);
    pool.connect = (...args: unknown[]) => (this.mustWait() ? this.connectAfterClose(connect, args) : connect(...args));
    const end = pool.end.bind(pool);
    pool.end = (...args: unknown[]) => this.end(end, args);
  }

  private track(client: PgClient): void {
    this.#open.add(client);
    const end = client.end.bind(client);
    client.end = (...args: unknown[]) => {
      if (this.#open.has(client)) this.#closing.add(client); // not once closed: the pool also ends a connection that died
      return end(...args);
    };
    client.once('end', () => {
      this.#open.delete(client);
      this.#closing.delete(client);
      const wakeups = [...this.#onClose];
      this.#onClose.clear();
      for (const wake of wakeups) wake();
    });
  }

  /** Whether a checkout now could open a connection while closing ones still fill the pool. */
  private mustWait(): boolean {
    const { pool } = this;
    return !this.#ending && this.#closing.size > 0 && pool.idleCount === 0 && pool.totalCount + this.#closing.size >= pool.options.max;
  }

  private connectAfterClose(connect: (...args: unknown[]) => unknown, args: unknown[]): unknown {
    const callback = typeof args[0] === 'function' ? (args[0] as (error: unknown) => void) : undefined;
    const connected = this.waitForRoom().then(() => connect(...args));
    if (!callback) return connected;
    connected.catch(callback); // callback style: node-postgres reports its own outcome to the callback
    return undefined;
  }

  private async waitForRoom(): Promise<void> {
    const timeoutMs = this.pool.options.connectionTimeoutMillis;
    const deadline = timeoutMs ? Date.now() + timeoutMs : Infinity;
    while (this.mustWait()) {
      if (!(await this.nextClose(deadline - Date.now()))) throw new Error('timeout exceeded when trying to connect');
    }
  }

  private end(end: (...args: unknown[]) => unknown, args: unknown[]): unknown {
    this.#ending = true;
    const callback = typeof args[0] === 'function' ? (args[0] as (error?: unknown) => void) : undefined;
    const ended = this.endAndWaitForClose(end);
    if (!callback) return ended;
    ended.then(() => callback(), callback);
    return undefined;
  }

  private async endAndWaitForClose(end: () => unknown): Promise<void> {
    // node-postgres' end() resolves once no connection is checked out or connecting; then wait for the sockets
    const closed = Promise.resolve(end()).then(() => this.allClosed());
    if (await this.within(closed, this.closeTimeoutMs)) return;
    this.logger.warn(
      `Closing ${this.label}: PostgreSQL had not closed ${this.#open.size} of its connections within ${this.closeTimeoutMs} ms; ` +
        'closing them from this side.',
    );
    for (const client of this.#open) client.connection?.stream?.destroy();
    await this.allClosed();
  }

  private async allClosed(): Promise<void> {
    while (this.#open.size > 0) await this.nextClose(Infinity);
  }

  /** Whether `promise` resolves within `timeoutMs` (its rejection is thrown). */
  private async within(promise: Promise<void>, timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([promise.then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves true at the next connection close, false once `timeoutMs` has passed without one. */
  private nextClose(timeoutMs: number): Promise<boolean> {
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            this.#onClose.delete(wake);
            resolve(false);
          }, timeoutMs)
        : undefined;
      timer?.unref();
      this.#onClose.add(wake);
    });
  }
}
