import { normalizeServers, serversProblems } from './servers-validation.js';
import { affinityProblems, changesProblems, sharedTablesProblems, sharedTierProblems, storeContextOf } from './tenancy-problems.js';
import { normalizeReplicaLag, replicaLagProblems } from './replica-lag-options.js';
import type { TenantPlacementPolicy, TenantServerOptions } from './tenant-servers.js';
import { InvalidTenancyOptionsError } from '../errors/options.errors.js';
import { TenantResolvers } from '../resolution/tenant-resolvers.js';
import type { TenantResolver } from '../resolution/tenant-resolver.js';
import { TenantIdValidator } from '../tenants/tenant-id-rules.js';
import type { TenantRecord, TenantStore } from '../tenants/tenant-store.js';
import type {
  ContextConfig,
  MikroTenancyAsyncDeclaration,
  MikroTenancyModuleOptions,
  TenancyOptions,
  TenantInjection,
  TenantIsolation,
  TenantPoolOptions,
  TenantChangesOptions,
  TenantSeeder,
  SharedTablesOptions,
} from './tenancy-options.js';
import { ALL_ROUTES, DEFAULT_TENANT_CONTEXT, SHARED_TIER_SCHEMA } from './tokens.js';
import { databaseNameOf } from './database-name.js';
import { replicaProblems } from '../replicas/replica-config.js';

export interface NormalizedTenancy<T extends TenantRecord = TenantRecord> {
  contextName: string;
  isolation: TenantIsolation;
  config: ContextConfig;
  store: TenantStore<T>;
  resolvers: TenantResolver[];
  schemaName: (tenant: T) => string;
  database: (tenant: T) => Partial<ContextConfig>;
  searchPath: string[];
  sharedTables: Required<SharedTablesOptions>;
  /** Schemas no tenant may derive: static contexts' and the search path's. */
  reservedSchemas: string[];
  /** Databases no tenant may use: static contexts'. */
  reservedDatabases: string[];
  /** The static contexts (database mode checks the connection budget of those on the tenant server). */
  staticContexts: ReadonlyMap<string, ContextConfig>;
  pool: Required<TenantPoolOptions>;
  ids: TenantIdValidator;
  cacheTtlMs: number;
  staleIfErrorMs: number;
  /** Where tenant changes are shared with other instances; undefined when they are not. */
  changes?: Required<Pick<TenantChangesOptions, 'context' | 'channel'>> & Pick<TenantChangesOptions, 'listen'> & { explicit: boolean };
  injection: TenantInjection;
  seed?: TenantSeeder<T>;
  afterStorageCreated?: TenancyOptions<T>['afterStorageCreated'];
  migrateAs?: { user: string; password?: string };
  /** Several servers, in their configured order; undefined: one server (the template's). */
  servers?: ReadonlyMap<string, TenantServerOptions>;
  placement?: TenantPlacementPolicy<T>;
  /** Schema isolation's database tier: the database of a database-tier tenant; undefined when there is no such tier. */
  databaseTier?: { databaseName: (tenant: T) => string };
  /**
   * Schema isolation's shared tier: its tenant column (row-level security always on) and database (undefined: the
   * tenant database's name + `_shared`, per server); undefined when there is no such tier.
   */
  sharedTier?: { shared: Required<SharedTablesOptions>; dbName?: string };
  /** Schema isolation: connection groups of the shared tenant pool (1: no affinity). */
  connectionGroups: number;
}

export interface NormalizedOptions {
  contexts: ReadonlyMap<string, ContextConfig>;
  tenancy?: NormalizedTenancy;
  forRoutes: string[];
  poolGuards: boolean;
  /** Read replicas: the lag bound and the check interval (defaults applied). */
  replicaLag: { maxMs: number; checkEveryMs: number };
}

const CONTEXT_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Names of the tokens a forRoot call registers, derived from its options. */
export function declarationOf(options: MikroTenancyModuleOptions): MikroTenancyAsyncDeclaration {
  return {
    contexts: Object.keys(options.contexts ?? {}),
    tenancy: options.tenancy && { contextName: options.tenancy.contextName, injection: options.tenancy.injection, isolation: options.tenancy.isolation },
    forRoutes: options.forRoutes,
    excludeRoutes: options.excludeRoutes,
  };
}

/** Checks every option at once and throws one error listing every problem, each naming its context. */
export function normalizeOptions(options: MikroTenancyModuleOptions, declared: MikroTenancyAsyncDeclaration): NormalizedOptions {
  const problems: string[] = [];
  const contexts = new Map(Object.entries(options.contexts ?? {}));
  const tenantName = options.tenancy?.contextName ?? DEFAULT_TENANT_CONTEXT;

  for (const name of new Set(declared.contexts.filter((n, i) => declared.contexts.indexOf(n) !== i))) {
    problems.push(`context '${name}' is declared more than once in forRootAsync({ contexts })`);
  }
  for (const name of new Set(declared.contexts)) {
    if (!contexts.has(name)) problems.push(`context '${name}' is declared in forRootAsync({ contexts }) but the factory returned no config for it`);
  }
  for (const name of contexts.keys()) {
    if (!declared.contexts.includes(name)) problems.push(`context '${name}' was returned by the factory but is not declared in forRootAsync({ contexts })`);
  }
  if (options.tenancy && !declared.tenancy) problems.push(`the factory returned 'tenancy' but forRootAsync was not given { tenancy: {} }: declare it so its tokens exist`);
  if (!options.tenancy && declared.tenancy) problems.push(`forRootAsync declares { tenancy } but the factory returned no 'tenancy' options`);
  if (options.tenancy && declared.tenancy) {
    const declaredName = declared.tenancy.contextName ?? DEFAULT_TENANT_CONTEXT;
    if (declaredName !== tenantName) problems.push(`tenant context: forRootAsync declares contextName '${declaredName}' but the factory returned '${tenantName}'`);
    const declaredInjection = declared.tenancy.injection ?? 'context';
    const injection = options.tenancy.injection ?? 'context';
    if (declaredInjection !== injection) problems.push(`tenant context '${tenantName}': forRootAsync declares injection '${declaredInjection}' but the factory returned '${injection}'`);
    const declaredIsolation = declared.tenancy.isolation;
    if (declaredIsolation !== undefined && declaredIsolation !== options.tenancy.isolation) {
      problems.push(`tenant context '${tenantName}': forRootAsync declares isolation '${declaredIsolation}' but the factory returned '${String(options.tenancy.isolation)}'`);
    }
  }
  if (contexts.size === 0 && !options.tenancy) problems.push('no contexts: give at least one in { contexts: { default: defineConfig({...}) } } or configure { tenancy }');

  for (const [name, config] of contexts) {
    if (!CONTEXT_NAME.test(name)) problems.push(`context '${name}': a context name must start with a letter and use letters, digits, '_' or '-'`);
    problems.push(...configProblems(`context '${name}'`, config));
    // read replicas must serve the primary's own database (docs/replicas.md)
    if (config && typeof config === 'object') problems.push(...replicaProblems(`context '${name}'`, config.replicas, databaseNameOf(config)));
  }
  if (options.tenancy && contexts.has(tenantName)) {
    problems.push(`context '${tenantName}' is registered twice: as a static context and as the tenant context (tenancy.contextName)`);
  }
  if (options.tenancy) problems.push(...tenancyProblems(options.tenancy, tenantName));
  problems.push(...replicaLagProblems(options.replicaLag));

  if (problems.length) throw new InvalidTenancyOptionsError(problems);
  return { contexts, tenancy: options.tenancy && normalizeTenancy(options.tenancy, tenantName, contexts), forRoutes: options.forRoutes ?? [...ALL_ROUTES], poolGuards: options.poolGuards ?? true, replicaLag: normalizeReplicaLag(options.replicaLag) };
}

function configProblems(label: string, config: ContextConfig | undefined): string[] {
  if (!config || typeof config !== 'object') return [`${label}: no configuration (expected the result of defineConfig({...}))`];
  const problems: string[] = [];
  if (!config.driver) problems.push(`${label}: no driver; use defineConfig from your driver package (e.g. @mikro-orm/postgresql) or set 'driver'`);
  if (!config.dbName && !config.clientUrl) problems.push(`${label}: no connection settings; set 'dbName' or 'clientUrl'`);
  if (!config.entities?.length && !config.entitiesTs?.length) problems.push(`${label}: no entities; list them in 'entities'`);
  return problems;
}

function tenancyProblems(tenancy: TenancyOptions, name: string): string[] {
  const label = `tenant context '${name}'`;
  const problems: string[] = [];
  if (!CONTEXT_NAME.test(name)) problems.push(`${label}: a context name must start with a letter and use letters, digits, '_' or '-'`);
  if (!['schema', 'database', 'table'].includes(tenancy.isolation)) problems.push(`${label}: isolation must be 'schema', 'database' or 'table'`);
  problems.push(...sharedTablesProblems(tenancy, label), ...sharedTierProblems(tenancy, label));
  if (tenancy.migrateAs !== undefined && (typeof tenancy.migrateAs?.user !== 'string' || !tenancy.migrateAs.user)) problems.push(`${label}: migrateAs.user must name a database role`);
  if (!tenancy.store || typeof tenancy.store.find !== 'function') problems.push(`${label}: no tenant store; set 'store' (e.g. TenantStores.static([...]) or TenantStores.table(Tenant))`);
  const config = tenancy.config;
  if (!config || typeof config !== 'object') problems.push(`${label}: no 'config' (the template configuration for every tenant)`);
  else {
    if (!config.driver) problems.push(`${label}: no driver in 'config'; use defineConfig from your driver package`);
    if (!config.entities?.length && !config.entitiesTs?.length) problems.push(`${label}: no entities in 'config'`);
    if (tenancy.isolation !== 'database' && !config.dbName && !config.clientUrl) problems.push(`${label}: no connection settings in 'config'; set 'dbName' or 'clientUrl'`);
    // database mode: a template replica must take each tenant's database (checked again per tenant when it is opened)
    problems.push(...replicaProblems(`${label}: config`, config.replicas, tenancy.isolation === 'database' ? 'own' : databaseNameOf(config)));
  }
  for (const [key, value] of Object.entries(tenancy.pool ?? {})) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < (key === 'idleTimeoutMs' || key === 'acquireTimeoutMs' ? 0 : 1)) problems.push(`${label}: pool.${key} must be a positive integer`);
  }
  const stale = tenancy.staleIfErrorMs;
  if (stale !== undefined && (!Number.isInteger(stale) || stale < 0)) problems.push(`${label}: staleIfErrorMs must be a whole number of ms, 0 or more (0 turns stale-if-error off)`);
  if (tenancy.injection && tenancy.injection !== 'context' && tenancy.injection !== 'request') problems.push(`${label}: injection must be 'context' or 'request'`);
  for (const schema of tenancy.searchPath ?? []) {
    if (typeof schema !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) problems.push(`${label}: searchPath entries must be plain schema names (letters, digits, '_')`);
  }
  if (tenancy.searchPath?.length && tenancy.isolation !== 'schema') problems.push(`${label}: searchPath applies to schema isolation only`);
  problems.push(...affinityProblems(tenancy, label));
  problems.push(...changesProblems(tenancy, label));
  problems.push(...serversProblems(tenancy, label));
  if (tenancy.resolve && tenancy.resolve.length === 0) problems.push(`${label}: 'resolve' is empty; give at least one resolver or leave it out for the x-tenant-id header`);
  return problems;
}

/** Explicit options, else on by default for a store kept in a static context (if it is PostgreSQL: see TenancyRuntime). */
function normalizeChanges(tenancy: TenancyOptions): NormalizedTenancy['changes'] {
  if (tenancy.changes === false) return undefined;
  const explicit = tenancy.changes;
  const context = explicit?.context ?? storeContextOf(tenancy.store);
  if (context === undefined) return undefined;
  return { context, channel: explicit?.channel ?? 'nestjs_mikro_tenancy', listen: explicit?.listen, explicit: explicit !== undefined };
}

function normalizeTenancy(tenancy: TenancyOptions, contextName: string, contexts: ReadonlyMap<string, ContextConfig>): NormalizedTenancy {
  // a tenant must never be named after a schema a static context lives in
  const staticSchemas = [...contexts.values()].map((c) => c.schema).filter((s): s is string => typeof s === 'string');
  const staticDatabases = [...contexts.values()].map(databaseNameOf).filter((d): d is string => d !== undefined);
  const searchPath = tenancy.searchPath ?? [];
  return {
    contextName,
    isolation: tenancy.isolation,
    config: tenancy.config,
    store: tenancy.store,
    resolvers: tenancy.resolve ?? [TenantResolvers.header()],
    schemaName: tenancy.schemaName ?? ((t) => `tenant_${t.id}`),
    database: tenancy.database ?? ((t) => ({ dbName: `tenant_${t.id}` })),
    searchPath,
    sharedTables: sharedColumnOptions(tenancy.sharedTables),
    reservedSchemas: [...staticSchemas, ...searchPath, ...(tenancy.sharedTier ? [SHARED_TIER_SCHEMA] : [])],
    reservedDatabases: staticDatabases,
    staticContexts: contexts,
    pool: {
      maxOpenTenants: tenancy.pool?.maxOpenTenants ?? 50,
      idleTimeoutMs: tenancy.pool?.idleTimeoutMs ?? 300_000,
      acquireTimeoutMs: tenancy.pool?.acquireTimeoutMs ?? 5_000,
      connectionsPerTenant: tenancy.pool?.connectionsPerTenant ?? tenancy.config.pool?.max ?? 5,
    },
    ids: new TenantIdValidator(tenancy.ids, staticSchemas),
    cacheTtlMs: tenancy.cacheTtlMs ?? 5_000,
    staleIfErrorMs: tenancy.staleIfErrorMs ?? 60_000,
    changes: normalizeChanges(tenancy),
    injection: tenancy.injection ?? 'context',
    seed: tenancy.seed,
    afterStorageCreated: tenancy.afterStorageCreated,
    migrateAs: tenancy.migrateAs,
    servers: normalizeServers(tenancy),
    placement: tenancy.placement,
    databaseTier: tenancy.databaseTier && { databaseName: tenancy.databaseTier.dbName ?? ((t) => `tenant_${t.id}`) },
    sharedTier: tenancy.sharedTier && { shared: sharedColumnOptions({ ...tenancy.sharedTier, rowLevelSecurity: true }), dbName: tenancy.sharedTier.dbName },
    connectionGroups: tenancy.connectionAffinity?.groups ?? 1,
  };
}

/** The tenant column's options with their defaults (table isolation, and schema isolation's shared tier). */
function sharedColumnOptions(options: SharedTablesOptions | undefined): Required<SharedTablesOptions> {
  return {
    column: options?.column ?? 'tenant_id',
    property: options?.property ?? 'tenantId',
    type: options?.type ?? 'text',
    rowLevelSecurity: options?.rowLevelSecurity ?? true,
    setting: options?.setting ?? 'nmt.tenant_id',
    uniques: options?.uniques ?? 'per-tenant',
    bypassingRole: options?.bypassingRole ?? 'refuse',
  };
}
