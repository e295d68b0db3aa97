import type { MikroORM } from '@mikro-orm/core';
import { Logger } from '@nestjs/common';
import type { ActiveTenant } from '../scope/active-tenant.js';
import type { ContextConfig, TenantIsolation } from '../options/tenancy-options.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { withPgPoolGuards } from './pg-pool-guards.js';
import { sharedHydrationState } from './shared-hydration-state.js';
import type { StorageOwner } from './storage-owner.js';

/**
 * Everything that differs between isolation modes, behind one interface: a new mode is a new folder next to
 * schema/ and database/ implementing it, with no edit to the lifecycle, the migrations or the health indicator.
 */
export interface TenantIsolationStrategy<T extends TenantRecord = TenantRecord> {
  readonly kind: TenantIsolation;
  /** Where the tenant's data lives, for messages: `schema "tenant_acme"`, `database "tenant_acme"`. */
  describe(record: T): string;
  /** The tenant made active; release it when the request or `run()` ends. */
  acquire(record: T): ActiveTenant<T> | Promise<ActiveTenant<T>>;
  /** The tenant made active without waiting (already checked and open), or undefined: then call `acquire`. */
  acquireNow(record: T): ActiveTenant<T> | undefined;
  /** Creates, checks and removes what holds a tenant's data. */
  readonly provisioning: TenantProvisioning<T>;
  /** How tenant migrations reach a tenant. */
  readonly migrations: TenantMigrationAccess<T>;
  /** What the health indicator reports for the tenant side. */
  health(): TenantHealth;
  /**
   * Called after any other ORM is initialised on the tenant entities in this process: MikroORM decorates entity
   * prototypes at every init (the last wins), so the serving ORM takes them back.
   */
  reclaimEntityPrototypes(): void;
  /**
   * Forgets what this process opened or checked for a tenant (dropped here or on another instance): database mode
   * closes its ORM once its requests are done; schema mode re-checks its schema before serving it again.
   */
  forgetTenant(tenantId: string): Promise<void>;
  /** Closes every ORM this strategy opened; failures are logged, the others still close. */
  close(): Promise<void>;
}

/** Where a tenant's data lives, and how to check, create and remove it. Identifiers are validated, then quoted. */
export interface TenantProvisioning<T extends TenantRecord = TenantRecord> {
  /** The name of its schema or database (two tenants must never derive the same one). */
  nameOf(record: T): string;
  /** Whether it exists, and which tenant's owner mark it carries. */
  ownerOf(record: T): Promise<StorageOwner>;
  /** Creates what holds the tenant's data (schema mode creates the schema inside the migration transaction). */
  create(record: T): Promise<void>;
  /**
   * Called by every create, before anything else is done (also for a tenant whose data exists): table mode lifts the
   * mark of a dropped tenant of that id, or refuses when rows of that dropped tenant remain.
   */
  beforeCreate?(record: T): Promise<void>;
  /**
   * Removes the tenant's data. Sessions still using it (this or another app instance) get until `drainUntil`
   * (epoch ms; default: now) to finish; then they are ended, so the drop never waits on them for long or deadlocks
   * with them. Safe to rerun.
   */
  drop(record: T, options?: { drainUntil?: number }): Promise<void>;
}

export interface TenantMigrationAccess<T extends TenantRecord = TenantRecord> {
  /**
   * True when one migration ORM reaches every tenant (schema mode: each fan-out worker opens one and reuses it);
   * false when each tenant needs an ORM of its own (database mode).
   */
  readonly sharedOrm: boolean;
  /**
   * True when every tenant's rows live in the same tables (table mode): the tenant migrations apply once, for every
   * tenant, even before the first one exists.
   */
  readonly shared: boolean;
  /**
   * With a shared ORM: which one reaches this tenant (several servers: one per server; undefined: none, the tenant
   * needs one of its own). Tenants of one key share a migration ORM; absent: every tenant shares one.
   */
  ormKey?(record: T | undefined): string | undefined;
  /** The config of a migration ORM for this tenant (for a shared ORM, any tenant of the same `ormKey` gives the same). */
  ormConfig(record: T | undefined): ContextConfig;
  /**
   * Where the tenant's migrations apply: its schema, or its database (checked to be the connection's); table mode:
   * the tables every tenant shares (`shared`, one lock key for all), so they apply once.
   */
  target(record: T): { schema?: string; database?: string; shared?: boolean; lockKey?: string };
  /** The config the migration generator reads the entities with, when it is not the template (table mode). */
  generatorConfig?(): ContextConfig;
}

/** The tenant side in a health report: an ORM to ping (schema mode) and details to show. */
export interface TenantHealth {
  ping?: MikroORM;
  details: Record<string, unknown>;
  /** Several servers: each server's own report (its ORM to ping, its details). */
  servers?: Record<string, TenantHealth>;
}

/**
 * Adds what every tenant ORM needs over the user's template: its name, no global-EM fallback, and no implicit
 * `create database` on connect (MikroORM's default), so an unknown database is an error, never a new database;
 * the template's hydrator with one hydration state shared by every ORM on the tenant entities (see
 * shared-hydration-state.ts: without it, an ORM initialised later makes the others' flushes rewrite the 1:1
 * foreign keys they only loaded); and, on PostgreSQL, the pool guards (bounded wait for a connection, dead connections
 * dropped). Every ORM the library opens on the tenant entities (serving, migration generator and runners) is built here.
 */
export function tenantOrmOptions<O extends object>(template: O, contextName: string, overrides: object = {}): O {
  const merged = { ...template, ...overrides } as ContextConfig;
  const hydrator = sharedHydrationState(merged.hydrator);
  // SQL logged for tenants (debug: true) goes through Nest's Logger like the static contexts', not bare console lines
  const sqlLogger = new Logger(`MikroORM:${contextName}`);
  const logger = merged.logger ?? ((message: string) => sqlLogger.log(message));
  const options = { ...merged, hydrator, logger, contextName, allowGlobalContext: false, ensureDatabase: false };
  return withPgPoolGuards(options as ContextConfig) as O;
}
