import type { EntityManager, IDatabaseDriver, Options } from '@mikro-orm/core';
import type { ModuleMetadata, Type } from '@nestjs/common';
import type { TenantResolver } from '../resolution/tenant-resolver.js';
import type { TenantIdRules } from '../tenants/tenant-id-rules.js';
import type { TenantRecord, TenantStore } from '../tenants/tenant-store.js';
import type { DatabaseTierOptions, TenantPlacementPolicy, TenantPoolOptions, TenantServerOptions } from './tenant-servers.js';

export type { TenantPoolOptions };

/** A MikroORM configuration, as returned by any driver's `defineConfig()`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ContextConfig = Partial<Options<IDatabaseDriver, any, any>>;

/** Fills a new tenant with its first data; runs inside the tenant's context (injected tenant EMs work too). */
export type TenantSeeder<T extends TenantRecord = TenantRecord> = (em: EntityManager, tenant: T) => unknown;

export type { TenantIdRules };

/**
 * How tenant data is isolated: a PostgreSQL schema per tenant, a database per tenant, or shared tables with a
 * tenant column (`'table'`, scoped by the ORM and by PostgreSQL row-level security; see SharedTablesOptions).
 */
export type TenantIsolation = 'schema' | 'database' | 'table';

/**
 * How the tenant EntityManager and repositories are injected:
 * - `'context'` (default): singletons that resolve the current request's tenant fork on every call;
 *   consumers stay singletons.
 * - `'request'`: Nest request-scoped providers (the real fork is injected); scope bubbles up to consumers.
 */
export type TenantInjection = 'context' | 'request';



/**
 * How tenant changes made through the library (create, update, suspend, resume, drop) reach the other app instances:
 * PostgreSQL LISTEN/NOTIFY on a static context's database, usually the hub that holds the tenant table.
 */
export interface TenantChangesOptions {
  /** The static context whose database carries the notifications. Default: the tenant store's (TenantStores.table). */
  context?: string;
  /** The notification channel (letters, digits, '_'; at most 63). Default `nestjs_mikro_tenancy`. */
  channel?: string;
  /**
   * Connection options of the listening session over the context's own. LISTEN needs a session of its own, which a
   * transaction-mode pooler (PgBouncer) does not give: point it at PostgreSQL directly, e.g. `{ port: 5432 }`.
   */
  listen?: { connectionString?: string; host?: string; port?: number; user?: string; password?: string; database?: string };
}

/** Shared-table isolation (`isolation: 'table'`): the tenant column and the row-level security around it. */
export interface SharedTablesOptions {
  /** The tenant column of every tenant table. Default `tenant_id`. */
  column?: string;
  /**
   * The entity property mapped to it. Default `tenantId`. An entity that declares it keeps its own mapping (so
   * `@Unique({ properties: ['tenantId', 'slug'] })` can name it); the others get a hidden property added.
   */
  property?: string;
  /** Column type of a property the library adds: `text` (default), `uuid`, `int` or `bigint` (as your tenant ids). */
  type?: 'text' | 'uuid' | 'int' | 'bigint';
  /**
   * PostgreSQL row-level security on every tenant table (policies generated into the tenant migrations, forced on
   * the table owner too), keyed on a setting the library sets per transaction. Default true.
   */
  rowLevelSecurity?: boolean;
  /**
   * Unique constraints of tenant entities (`unique: true`, `@Unique()`): `'per-tenant'` (default) adds the tenant
   * column to each, so a value is unique within a tenant, as it is in schema and database mode (one tenant's
   * `alice` neither blocks nor reveals another's); `'as-declared'` keeps them global and warns at boot.
   */
  uniques?: 'per-tenant' | 'as-declared';
  /** The setting the policies read (`current_setting(...)`). Default `nmt.tenant_id`. */
  setting?: string;
  /**
   * What the app does at boot when its database role bypasses row-level security (a superuser or `BYPASSRLS`), so
   * the policies would not bind it: `'refuse'` (default: boot fails, naming the role and the fix) or `'warn'`.
   */
  bypassingRole?: 'refuse' | 'warn';
}

/**
 * Schema isolation's shared tier (`tenancy.sharedTier`): tenants whose record says `tier: 'shared'` keep their rows in
 * tables they all share, in schema `nmt_shared` of a database of its own on each server, scoped by a tenant column as
 * in table isolation (an entity filter, and row-level security forced on every table). Every tenant table of the
 * other tiers carries the same column, whose value is a constant in a tenant's own schema. See docs/servers.md.
 */
export interface SharedTierOptions extends Omit<SharedTablesOptions, 'rowLevelSecurity'> {
  /**
   * The database of the shared tables on each server (over that server's connection options), created at boot when
   * missing. Default: the tenant database's name with `_shared` appended. Never the tenant database itself.
   */
  dbName?: string;
}

export interface TenancyOptions<T extends TenantRecord = TenantRecord> {
  /** Context name used by `@InjectEntityManager(name)` / `@InjectRepository(E, name)`. Default `'tenant'`. */
  contextName?: string;
  isolation: TenantIsolation;
  /** Template configuration for every tenant: entities, migrations, pool, driver. */
  config: ContextConfig;
  /** Where tenants are looked up (`TenantStores.static([...])`, `TenantStores.table(Entity)`, or your own). */
  store: TenantStore<T>;
  /** Resolver chain, first hit wins. Default: `[TenantResolvers.header('x-tenant-id')]`. */
  resolve?: TenantResolver[];
  /** Schema mode: the schema of a tenant. Default `tenant_${id}`. Must be a safe identifier of at most 63 bytes. */
  schemaName?: (tenant: T) => string;
  /**
   * Schema mode: schemas kept on the search_path of tenant connections, for extensions' types and functions
   * (e.g. `['extensions']` after `create extension citext schema extensions`). Default `[]`: no schema, so an
   * unqualified table name in hand-written SQL fails instead of reading `public`. Never put a schema with tables here.
   */
  searchPath?: string[];
  /**
   * Database mode: connection options of a tenant, merged over `config`. Default `{ dbName: 'tenant_' + id }`.
   * Must name the tenant's database (`dbName`, or a `clientUrl` with a database); options that would let the
   * template's `dbName`, host, port or user win over the tenant's `clientUrl` are refused.
   */
  database?: (tenant: T) => Partial<ContextConfig>;
  /** Table mode: the tenant column and row-level security (see SharedTablesOptions). */
  sharedTables?: SharedTablesOptions;
  pool?: TenantPoolOptions;
  ids?: TenantIdRules;
  /**
   * How long a tenant lookup is cached, in ms. Default 5000; 0 disables the cache. Changes made through the library
   * reach every instance at once (see `changes`); this bounds how long a direct write to the store goes unseen.
   */
  cacheTtlMs?: number;
  /**
   * Stale-if-error: while the tenant store fails (its hub database down), how long past `cacheTtlMs` a tenant
   * looked up before keeps its last answer, in ms. Default 60000; 0 disables it. Ids not cached get 503.
   */
  staleIfErrorMs?: number;
  /**
   * Tenant changes shared with the other app instances (see TenantChangesOptions). On by default when the store is a
   * TenantStores.table on PostgreSQL; `false` turns it off (other instances then see changes after `cacheTtlMs`).
   */
  changes?: TenantChangesOptions | false;
  injection?: TenantInjection;
  /**
   * Runs once for a new tenant right after its schema or database is created and migrated, before `seed` and before
   * it is registered (TenantLifecycle.create), with the tenant's EntityManager: where a call such as Citus's
   * `select citus_schema_distribute('tenant_x')` goes (docs/servers.md). A failure fails the create, which removes
   * what it made.
   */
  afterStorageCreated?: (context: { tenant: T; em: EntityManager; where: string }) => unknown;
  /**
   * Fills a new tenant after its migrations (TenantLifecycle.create); runs in the tenant's context and the fork
   * is flushed afterwards. E.g. `seed: (em) => new DatabaseSeeder().run(em)` with @mikro-orm/seeder.
   */
  seed?: TenantSeeder<T>;
  /**
   * The role tenant migrations run as, when it is not the app's (e.g. the tables' owner, while the app connects as a
   * role that row-level security binds). Replaces the user and password of the migration connections only.
   */
  migrateAs?: { user: string; password?: string };
  /**
   * Several PostgreSQL servers (schema or database isolation): the servers tenants may live on, by name, each with
   * connection options over `config`. A tenant lives on the server its record names (`server`); a record naming
   * none lives on the first one. Leave it out with one server. See docs/servers.md.
   */
  servers?: Record<string, TenantServerOptions>;
  /** Where `TenantLifecycle.create` places a new tenant (default: the open server with the fewest tenants). */
  placement?: TenantPlacementPolicy<T>;
  /**
   * Schema isolation: a database tier, so a tenant whose record says `tier: 'database'` gets a database of its own
   * (big customers), while the others share the tenant database; `TenantLifecycle.move` moves tenants between tiers.
   */
  databaseTier?: DatabaseTierOptions<T>;
  /**
   * Schema isolation: a shared tier, so a tenant whose record says `tier: 'shared'` keeps its rows in shared tables
   * (small tenants), next to tenants with a schema (and, with `databaseTier`, a database) of their own. Tenant keys
   * must be unique across tenants (no serial keys). See SharedTierOptions.
   */
  sharedTier?: SharedTierOptions;
  /**
   * Schema isolation, many tenants: split each server's pool into `groups` groups of `pool.max / groups`
   * connections and serve a tenant always from the same group, so each PostgreSQL connection caches the catalog of
   * about 1/groups of the tenant schemas instead of all of them (less backend memory, fewer cold caches). A tenant's
   * work then uses at most `pool.max / groups` connections at once. Default: off (one group). See docs/performance.md.
   */
  connectionAffinity?: { groups: number };
}

export interface MikroTenancyModuleOptions<T extends TenantRecord = TenantRecord> {
  /**
   * Static named contexts. `default` is also injectable by class (`EntityManager`, `MikroORM`) and by
   * `@InjectEntityManager()` with no name.
   */
  contexts?: Record<string, ContextConfig>;
  tenancy?: TenancyOptions<T>;
  /** Routes the per-request middleware runs on. Default: every route. */
  forRoutes?: string[];
  /**
   * Routes the middleware leaves alone, e.g. `['graphql']` when `TenantGraphqlInterceptor` enters the tenant of each
   * operation (so refusals are GraphQL errors, not HTTP ones). Default: none.
   */
  excludeRoutes?: string[];
  /**
   * The PostgreSQL pool guards on the static contexts: a bounded wait for a pooled connection (5 s unless
   * `driverOptions.connectionTimeoutMillis` says otherwise), dead connections dropped after a server restart, and
   * "database unavailable" errors answered 503. `false` leaves the static contexts' pools exactly as configured (an
   * outage then surfaces as your own error handling decides). Tenant pools always have them: the tenant pool budget
   * depends on them. Default true.
   */
  poolGuards?: boolean;
  /**
   * Read replicas (MikroORM's `replicas` option of a PostgreSQL context, or returned by `tenancy.database(tenant)`): a
   * replica further behind its primary than `maxMs` is skipped, and the primary serves its reads. See docs/replicas.md.
   */
  replicaLag?: ReplicaLagOptions;
}

/** How far behind its primary a read replica may be, and how often that is checked (docs/replicas.md). */
export interface ReplicaLagOptions {
  /** A replica that may be staler than this is skipped (the primary serves its reads). Default 5000 ms. */
  maxMs?: number;
  /** How often each replica is checked while it is asked for reads. Default 1000 ms; must be below `maxMs`. */
  checkEveryMs?: number;
}

/** What Nest must know before an async factory runs: the names of the injection tokens to register. */
export interface MikroTenancyAsyncDeclaration {
  /** Names of the static contexts the factory will return (tokens must exist before it runs). */
  contexts: string[];
  /**
   * Present when the factory returns `tenancy`: its context name and injection mode, and optionally its isolation.
   * Declaring `isolation: 'schema'` skips the interceptor that database mode needs (see README, Performance).
   */
  tenancy?: { contextName?: string; injection?: TenantInjection; isolation?: TenantIsolation };
  forRoutes?: string[];
  excludeRoutes?: string[];
  /**
   * The default context's driver class (e.g. `PostgreSqlDriver`), so its own EntityManager/MikroORM classes are
   * injectable by class too; core `EntityManager`/`MikroORM` always are.
   */
  driver?: abstract new (...args: never[]) => IDatabaseDriver;
}

export interface MikroTenancyOptionsFactory {
  createMikroTenancyOptions(): MikroTenancyModuleOptions | Promise<MikroTenancyModuleOptions>;
}

export interface MikroTenancyModuleAsyncOptions extends MikroTenancyAsyncDeclaration, Pick<ModuleMetadata, 'imports'> {
  useFactory?: (...args: never[]) => MikroTenancyModuleOptions | Promise<MikroTenancyModuleOptions>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inject?: any[];
  useClass?: Type<MikroTenancyOptionsFactory>;
  useExisting?: Type<MikroTenancyOptionsFactory>;
}
