import type { Configuration, ConnectionType, IDatabaseDriver } from '@mikro-orm/core';
import { type ReplicaEntry, inheritDriverOptions, replicaLabel } from './replica-config.js';
import type { SqlConnection } from './replica-connections.js';
import { ReplicaRouter, type ReplicaRoutingSettings } from './replica-router.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DriverClass = new (...args: any[]) => IDatabaseDriver;

/**
 * The MikroORM driver internals (DatabaseDriver / AbstractSqlDriver, 7.x) this file builds on:
 * `getConnection(type)` is where MikroORM picks the connection of every query ('read' for reads when
 * `preferReadReplicas` is on, its default), `connection` and `replicas` are the connection objects it made, and
 * `createReplicas` is called by the constructor to make the replicas from the `replicas` option.
 * test/unit/mikro-orm-internals.spec.ts breaks if one of them changes.
 */
interface SqlDriverInternals {
  readonly config: Configuration;
  readonly connection: SqlConnection;
  readonly replicas: SqlConnection[];
  getConnection(type?: ConnectionType): unknown;
  createReplicas(make: (options: ReplicaEntry) => unknown): unknown[];
  close(force?: boolean): Promise<void>;
}

/** Where a driver of this folder keeps its router (a symbol, so it never clashes with MikroORM's own members). */
const ROUTER = Symbol('nestjs-mikro-tenancy:read-replicas');

/**
 * A config whose driver routes reads to its `replicas` (see ReplicaRouter): a subclass of the config's own driver
 * class, so everything else (and `instanceof PostgreSqlDriver`) is unchanged. An ORM without replicas gets no router
 * and behaves exactly as the base driver. PostgreSQL only (the replica checks are PostgreSQL SQL).
 */
export function withReadReplicas<C extends { driver?: unknown }>(config: C, settings: ReplicaRoutingSettings): C {
  const Base = config.driver as DriverClass;
  class ReadReplicaDriver extends Base {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      const driver = this as unknown as SqlDriverInternals;
      if (driver.replicas.length === 0) return;
      const entries = (driver.config.get('replicas') ?? []) as ReplicaEntry[];
      const label = String(driver.config.get('contextName'));
      const router = new ReplicaRouter(driver.connection, driver.replicas, entries.map(replicaLabel), label, settings);
      Object.defineProperty(this, ROUTER, { value: router });
    }

    override getConnection(type: ConnectionType = 'write'): ReturnType<IDatabaseDriver['getConnection']> {
      const router = replicaRouterOf(this);
      if (type === 'read' && router) return router.readConnection() as unknown as ReturnType<IDatabaseDriver['getConnection']>;
      return super.getConnection(type);
    }

    /** Called by MikroORM's constructor (before this class's own fields exist): keeps the primary's driverOptions. */
    createReplicas(make: (options: ReplicaEntry) => unknown): unknown[] {
      const driver = this as unknown as SqlDriverInternals;
      const primaryOptions = driver.config.get('driverOptions');
      const base = (Base.prototype as unknown as SqlDriverInternals).createReplicas;
      return base.call(this, (options) =>
        make(options.driverOptions === primaryOptions ? options : { ...options, driverOptions: inheritDriverOptions(primaryOptions, options.driverOptions) }),
      );
    }

    override async connect(...args: Parameters<IDatabaseDriver['connect']>): ReturnType<IDatabaseDriver['connect']> {
      replicaRouterOf(this)?.reopen();
      return super.connect(...args);
    }

    override async close(force?: boolean): Promise<void> {
      replicaRouterOf(this)?.close();
      await super.close(force);
    }
  }
  return { ...config, driver: ReadReplicaDriver };
}

/** The read-replica router of a driver made by withReadReplicas, if it has replicas. */
export function replicaRouterOf(driver: unknown): ReplicaRouter | undefined {
  return typeof driver === 'object' && driver !== null ? (driver as { [ROUTER]?: ReplicaRouter })[ROUTER] : undefined;
}
