import type { MikroORM } from '@mikro-orm/core';

/** The least a tenant record has; your store may return richer records (plan, region, connection info...). */
export interface TenantRecord {
  /** The tenant id, as sent by clients and validated by the id rules. */
  id: string;
  /** A suspended tenant's requests get a 403. */
  suspended?: boolean;
  /**
   * The server it lives on, a name of `tenancy.servers` (set by `TenantLifecycle.create` and `move`); none: the first
   * server. Without `tenancy.servers` it is ignored. A `TenantStores.table` entity keeps it in a column of its own.
   */
  server?: string;
  /**
   * Schema isolation with `tenancy.databaseTier`: `'database'` gives the tenant a database of its own (holding its
   * schema); with `tenancy.sharedTier`: `'shared'` keeps its rows in the shared tables; none or `'schema'`: its schema
   * in the tenant database. Set by `create` (from the data) and `move`.
   */
  tier?: 'shared' | 'schema' | 'database';
}

/** Looks up static contexts by name, for stores that keep tenants in a database (see TenantStores.table). */
export interface StaticContexts {
  orm(contextName: string): MikroORM;
}

/** Where tenants live. Implement it to keep tenants anywhere (an API, a config service, a cache...). */
export interface TenantStore<T extends TenantRecord = TenantRecord> {
  /** The tenant with this (already validated) id, or undefined when there is none. */
  find(id: string): Promise<T | undefined>;
  /** Every tenant; used by forEachTenant, migrations and the CLI. */
  list(): Promise<T[]>;
  /** Registers a tenant (lifecycle `create`); stores without it are read-only. */
  add?(record: T): Promise<void>;
  /** Removes a tenant (lifecycle `drop`). */
  remove?(id: string): Promise<void>;
  /**
   * The static context whose database holds the tenants, when there is one (TenantStores.table): tenant changes are
   * then shared with the other app instances through it by default (tenancy.changes).
   */
  readonly contextName?: string;
  /** Called once at boot, after the static contexts are up. */
  attach?(contexts: StaticContexts): void | Promise<void>;
}
