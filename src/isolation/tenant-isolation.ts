import type { ActiveTenant } from '../scope/active-tenant.js';
import type { ContextConfig, TenantIsolation } from '../options/tenancy-options.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { withPgPoolGuards } from './pg-pool-guards.js';

/** How a tenant's data is reached: a schema of one shared ORM, or an ORM of its own. */
export interface TenantIsolationStrategy<T extends TenantRecord = TenantRecord> {
  readonly kind: TenantIsolation;
  /** Where the tenant's data lives, for messages: `schema "tenant_acme"`, `database "tenant_acme"`. */
  describe(record: T): string;
  /** The tenant made active; release it when the request or `run()` ends. */
  acquire(record: T): ActiveTenant<T> | Promise<ActiveTenant<T>>;
  /** Forgets what was opened or checked for the tenant (it is being dropped or re-created). */
  forget(record: T): void | Promise<void>;
  /** Closes every ORM this strategy opened; failures are logged, the others still close. */
  close(): Promise<void>;
}

/**
 * Adds what every tenant ORM needs over the user's template: its name, no global-EM fallback, and no implicit
 * `create database` on connect (MikroORM's default), so an unknown database is an error, never a new database;
 * and, on PostgreSQL, the pool guards (bounded wait for a connection, dead connections dropped).
 */
export function tenantOrmOptions<O extends object>(template: O, contextName: string, overrides: object = {}): O {
  const options = { ...template, ...overrides, contextName, allowGlobalContext: false, ensureDatabase: false };
  return withPgPoolGuards(options as ContextConfig) as O;
}
