import type { TenantRecord } from '../tenants/tenant-store.js';
import type { PoolConfig } from '@mikro-orm/core';

/**
 * A PostgreSQL server tenants may live on (`tenancy.servers`): connection options laid over `tenancy.config`.
 * Schema mode opens one tenant ORM (one connection pool) per server, in `dbName` on it; database mode opens each
 * tenant's database on the tenant's server.
 */
export interface TenantServerOptions {
  /** A connection URL of the server; its host, port, user and database replace the template's. */
  clientUrl?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  /** Schema mode: the database that holds the tenant schemas on this server. Default: the template's. */
  dbName?: string;
  /** Driver options over the template's (e.g. TLS for this server). */
  driverOptions?: Record<string, unknown>;
  /** Schema mode: this server's connection pool (default: the template's `pool`). */
  pool?: PoolConfig;
  /** Database mode: this server's tenant ORM budget (default: `tenancy.pool`). */
  tenantPool?: TenantPoolOptions;
  /**
   * How another server reaches this one to copy a tenant away (`CREATE SUBSCRIPTION ... CONNECTION`), as a libpq
   * connection string, when that differs from how the app connects (another host name, a role with REPLICATION).
   * Default: built from this server's connection options. See docs/moving-tenants.md.
   */
  subscriptionConnection?: string;
  /** New tenants are not placed here by the default policy (its tenants are still served). Default false. */
  closedToNewTenants?: boolean;
}

/** The server a record lives on: the one it names, or (a record naming none, as before servers were configured) the first configured. */
export function serverOfRecord(servers: ReadonlyMap<string, unknown>, record: Pick<TenantRecord, 'server'>): string {
  return record.server ?? (servers.keys().next().value as string);
}

/** What a placement policy knows of a server. */
export interface TenantServerLoad {
  name: string;
  /** Tenants the store lists on it. */
  tenants: number;
  closedToNewTenants: boolean;
}

/**
 * Chooses the server of a new tenant (`TenantLifecycle.create` without `{ server }`): a name of `tenancy.servers`.
 * The default picks the open server with the fewest tenants (the first listed on a tie).
 */
export type TenantPlacementPolicy<T extends TenantRecord = TenantRecord> = (input: {
  tenant: T;
  servers: readonly TenantServerLoad[];
}) => string | Promise<string>;

export interface TenantPoolOptions {
  /** Database mode: tenant databases kept open at once (LRU beyond that). Default 50. */
  maxOpenTenants?: number;
  /** Database mode: close a tenant database unused for this long. Default 300000 (5 min). */
  idleTimeoutMs?: number;
  /**
   * Database mode: how long a request waits for a free tenant slot before a 503 (default 5000). Also set as the
   * driver's connection timeout of tenant pools, so waiting for a pooled connection is bounded too.
   */
  acquireTimeoutMs?: number;
  /** Database mode: connections per open tenant database; defaults to the template's `pool.max`, else 5. */
  connectionsPerTenant?: number;
}

/**
 * Schema isolation's database tier (`tenancy.databaseTier`): tenants whose record says `tier: 'database'` get a
 * database of their own on their server, holding their schema, served by an ORM of their own from a bounded pool
 * (`tenancy.pool`, as in database isolation). The others share the tenant database. See docs/servers.md.
 */
export interface DatabaseTierOptions<T extends TenantRecord = TenantRecord> {
  /** The database of a database-tier tenant. Default `tenant_${id}`. */
  dbName?: (tenant: T) => string;
}
