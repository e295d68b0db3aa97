import { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { ActiveTenant, type TenantFork, tenantFork } from '../../scope/active-tenant.js';
import { TenantSearchPathError, TenantStorageConflictError, TenantStorageMissingError } from '../../errors/isolation.errors.js';
import { InvalidTenancyOptionsError } from '../../errors/options.errors.js';
import type { ContextConfig, SharedTablesOptions } from '../../options/tenancy-options.js';
import { validateDerivedIdentifier } from '../../tenants/tenant-id-rules.js';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import { acceptsStartupOptions, parseSearchPath, renderSearchPath, withSearchPath } from './search-path.js';
import { SCHEMA_OWNER_SQL, StorageClaims, type StorageOwner, storageOwnerOf } from '../storage-owner.js';
import { tenantEntityManagerClass } from '../tenant-entity-manager.js';
import { tenantSchemaDriverClass } from './tenant-schema-driver.js';
import type { TenantHealth, TenantIsolationStrategy, TenantMigrationAccess } from '../tenant-isolation.js';
import { SchemaProvisioning } from './schema-provisioning.js';
import { withConnectionAffinity } from './connection-affinity.js';
import { withSessionSearchPathGuard } from './session-search-path-guard.js';
import { tenantOrmOptions } from '../tenant-isolation.js';
import { ThrottledWarnings } from '../throttled-warnings.js';
import { TENANT_FILTER } from '../table/shared-table-metadata.js';
import { schemaModeMetadata } from './mixed-tier-metadata.js';
import { mixedTierSchemaPrelude } from './mixed-tier-functions.js';

export interface SchemaIsolationSettings<T extends TenantRecord> {
  contextName: string;
  template: ContextConfig;
  schemaName: (tenant: T) => string;
  /** Schemas kept on every tenant connection's search_path (extensions); never a tenant's. */
  searchPath: readonly string[];
  /** Schemas no tenant may derive: `public`, static contexts' schemas, the search path's. */
  reservedSchemas: readonly string[];
  /** The tenant of the current unit of work, to name it in errors (and pick its connection group). */
  currentTenantId: () => string | undefined;
  /** Connection groups of the pool (tenancy.connectionAffinity); 1 or undefined: one pool for every tenant. */
  connectionGroups?: number;
  /**
   * Mixed tiers (tenancy.sharedTier): the shared tier's tenant column, which every tenant table carries here too
   * (mixed-tier-metadata.ts); each fork then also sets the tenant filter, and each schema gets its `nmt_tenant()`.
   */
  mixedTier?: Required<SharedTablesOptions>;
  logger: Logger;
}

/** A tenant's checked schema and the fork options of its requests. */
interface VerifiedSchema {
  readonly schema: string;
  readonly fork: TenantFork;
}

/**
 * One ORM and one connection pool for every tenant; each request's fork is pinned to the tenant's schema. Three
 * layers keep a tenant in its schema:
 * 1. every tenant entity is made wildcard-schema at discovery, so MikroORM qualifies every table of a query with
 *    the fork's schema: joins, pivot tables, populate, QueryBuilder (see schemaModeOrmOptions);
 * 2. Kysely and the result cache are scoped by the tenant EntityManager class (tenant-entity-manager.ts);
 * 3. connections run with a search_path that holds no tenant table (search-path.ts): what is left unqualified fails.
 * Before a tenant is first served, its schema is checked to exist and to be its own (storage-owner.ts).
 */
export class SchemaIsolation<T extends TenantRecord = TenantRecord> implements TenantIsolationStrategy<T> {
  readonly kind = 'schema' as const;
  readonly provisioning: SchemaProvisioning<T>;
  /** One migration ORM (with the same wildcard metadata) reaches every schema; `migrateTenant` sets the schema. */
  readonly migrations: TenantMigrationAccess<T>;
  /** Tenants whose schema was checked: the schema that was checked, and the fork options of every request there. */
  readonly #verified = new Map<string, VerifiedSchema>();
  readonly #verifying = new Map<string, Promise<VerifiedSchema>>();
  readonly #claims = new StorageClaims();
  readonly #warnings: ThrottledWarnings;
  #searchPathChecked?: Promise<void>;

  private constructor(
    readonly orm: MikroORM,
    private readonly settings: SchemaIsolationSettings<T>,
  ) {
    this.#warnings = new ThrottledWarnings(settings.logger);
    this.provisioning = new SchemaProvisioning<T>(this, settings.logger);
    const { template, contextName, mixedTier } = settings;
    this.migrations = {
      sharedOrm: true,
      shared: false,
      ormConfig: () => ({ ...template, ...schemaModeMetadata(template, contextName, mixedTier, { wildcardSchema: true }) }),
      target: (record) => {
        const schema = this.schemaOf(record);
        return { schema, ...(mixedTier ? { before: mixedTierSchemaPrelude(schema, { tenantId: record.id }, mixedTier) } : {}) };
      },
      // mixed tiers generate from their metadata on the entities as declared; plain schema mode from the template
      ...(mixedTier ? { generatorConfig: () => ({ ...template, ...schemaModeMetadata(template, contextName, mixedTier, { wildcardSchema: false }) }) } : {}),
    };
  }

  /** `init` opens the ORM (default MikroORM.init, which connects lazily; the database tier connects at once). */
  static async open<T extends TenantRecord>(settings: SchemaIsolationSettings<T>, init: (options: ContextConfig) => Promise<MikroORM> = (options) => MikroORM.init(options)): Promise<SchemaIsolation<T>> {
    // a table missing from a tenant's schema (dropped meanwhile?) makes its schema checked again before it serves
    const late: { isolation?: SchemaIsolation<T> } = {};
    const orm = await init(schemaModeOrmOptions(settings, (tenantId) => void late.isolation?.forgetTenant(tenantId)));
    late.isolation = new SchemaIsolation(orm, settings);
    return late.isolation;
  }

  /** The validated schema of a tenant (400 when the derived name is unsafe, would be truncated, or is reserved). */
  schemaOf(record: T): string {
    const schema = this.settings.schemaName(record);
    validateDerivedIdentifier('schema', schema, record.id, this.settings.reservedSchemas);
    return schema;
  }

  describe(record: T): string {
    return `schema "${this.schemaOf(record)}"`;
  }

  /** `onRelease`: called when the tenant is released (the database tier gives its ORM lease back there). */
  acquire(record: T, onRelease?: () => void): ActiveTenant<T> | Promise<ActiveTenant<T>> {
    const active = this.acquireNow(record, onRelease);
    if (active) return active;
    return this.verify(record, this.schemaOf(record)).then((verified) => new ActiveTenant(record, this.orm.em, verified.fork, onRelease));
  }

  acquireNow(record: T, onRelease?: () => void): ActiveTenant<T> | undefined {
    const verified = this.#verified.get(record.id);
    // the record may derive another schema than the one checked (it changed): then the full path checks it; the same
    // name was validated when it was checked
    return verified !== undefined && verified.schema === this.settings.schemaName(record) ? new ActiveTenant(record, this.orm.em, verified.fork, onRelease) : undefined;
  }

  health(): TenantHealth {
    return { ping: this.orm, details: { isolation: 'schema' } };
  }

  /** Whether the tenant's schema exists, and whose mark it carries. */
  async ownerOf(record: T): Promise<StorageOwner> {
    const rows = await this.orm.em.getConnection().execute<{ mark: string | null }[]>(SCHEMA_OWNER_SQL, [this.schemaOf(record)]);
    return storageOwnerOf(rows);
  }

  /** Forgets what was checked for a tenant (dropped, or re-created): its schema is checked again before it serves. */
  async forgetTenant(tenantId: string): Promise<void> {
    this.#verified.delete(tenantId);
    this.#claims.releaseTenant(tenantId);
  }

  /**
   * MikroORM decorates entity prototypes (their metadata, factory, config) at every `MikroORM.init`, and the last
   * ORM initialised on a class wins. Any other ORM the library opens on the tenant entities in this process (the
   * migration generator, migration runners) calls this afterwards, so the serving ORM's wildcard metadata is back on
   * the prototypes. Migration runners use wildcard metadata too (tenantDiscovery), so nothing differs meanwhile.
   */
  reclaimEntityPrototypes(): void {
    this.orm.getMetadata().decorate(this.orm.em);
  }

  async close(): Promise<void> {
    await this.orm.close();
  }

  /** Once per tenant and process (concurrent first requests share it); a failure is not remembered. */
  private verify(record: T, schema: string): Promise<VerifiedSchema> {
    const key = `${record.id}\u0000${schema}`;
    let verifying = this.#verifying.get(key);
    if (!verifying) {
      verifying = this.check(record, schema).finally(() => this.#verifying.delete(key));
      this.#verifying.set(key, verifying);
    }
    return verifying;
  }

  private async check(record: T, schema: string): Promise<VerifiedSchema> {
    await (this.#searchPathChecked ??= this.checkSearchPath().catch((error: unknown) => {
      this.#searchPathChecked = undefined;
      throw error;
    }));
    const taken = this.#claims.claim(schema, record.id);
    if (taken !== undefined) throw this.conflict(record, schema, taken);
    const owner = await this.ownerOf(record);
    if (!owner.exists) {
      this.#claims.release(schema, record.id);
      throw new TenantStorageMissingError(record.id, 'schema');
    }
    if (owner.owner !== undefined && owner.owner !== record.id) {
      this.#claims.release(schema, record.id);
      throw this.conflict(record, schema, owner.owner);
    }
    // mixed tiers: the tenant filter too (the policies of a tenant's own schema are true for its rows anyway)
    const filterParams = this.settings.mixedTier ? { filterParams: { [TENANT_FILTER]: Object.freeze({ id: record.id }) } } : {};
    const verified: VerifiedSchema = { schema, fork: tenantFork({ schema, ...filterParams }) };
    this.#verified.set(record.id, verified);
    return verified;
  }

  private conflict(record: T, schema: string, otherTenantId: string): TenantStorageConflictError {
    this.#warnings.warn(
      `conflict:${record.id}`,
      `Tenant '${record.id}' derives schema "${schema}", which belongs to tenant '${otherTenantId}': refused. ` +
        `Fix tenancy.schemaName so that every tenant derives its own schema.`,
    );
    return new TenantStorageConflictError(record.id, `schema "${schema}"`, otherTenantId, 'open');
  }

  private async checkSearchPath(): Promise<void> {
    const [row] = await this.orm.em.getConnection().execute<{ path: string }[]>(`select current_setting('search_path') as path`);
    const actual = parseSearchPath(row?.path ?? '');
    const expected = [...this.settings.searchPath];
    if (actual.join(',') !== expected.join(',')) {
      const error = new TenantSearchPathError(this.settings.contextName, actual.join(', '), renderSearchPath(expected));
      this.#warnings.warn('search_path', error.message);
      throw error;
    }
  }
}

/** The tenant ORM of schema mode: see SchemaIsolation for the three layers set up here. */
export function schemaModeOrmOptions<T extends TenantRecord>(settings: SchemaIsolationSettings<T>, onTenantTableMissing?: (tenantId: string) => void): ContextConfig {
  const { template, contextName, searchPath } = settings;
  if (!acceptsStartupOptions(template.driverOptions)) {
    throw new InvalidTenancyOptionsError([
      `tenant context '${contextName}': schema isolation sets the connections' search_path through driverOptions, but ` +
        `tenancy.config.driverOptions is not a plain object (a Kysely dialect or pool instance); pass pg options instead`,
    ]);
  }
  const options = tenantOrmOptions(template, contextName, {
    ...schemaModeMetadata(template, contextName, settings.mixedTier, { wildcardSchema: true, onUniqueWithoutTenant: uniqueWithoutTenantWarning(settings.logger, contextName, settings.mixedTier?.property) }),
    driverOptions: withSearchPath(template.driverOptions, searchPath),
    entityManager: tenantEntityManagerClass(template, (em) => (em.schema ? `schema:${em.schema}` : undefined)),
    driver: tenantSchemaDriverClass(template, settings.currentTenantId, onTenantTableMissing),
  });
  const guarded = withSessionSearchPathGuard(options, contextName);
  const groups = settings.connectionGroups ?? 1;
  return groups > 1 ? withConnectionAffinity(guarded, groups, settings.currentTenantId) : guarded;
}

/** Mixed tiers: a unique constraint that leaves the tenant column out would collide across the shared tier's tenants. */
function uniqueWithoutTenantWarning(logger: Logger, contextName: string, tenantProperty = 'tenantId'): (entity: string, columns: string[]) => void {
  return (entity, columns) =>
    logger.warn(
      `Tenant context '${contextName}' (shared tier): a unique constraint of ${entity} on (${columns.join(', ')}) leaves out ` +
        `the tenant column, so one shared-tier tenant's value blocks every other's (and tells them it exists). Make it ` +
        `@Unique({ properties: ['${tenantProperty}', ...] }) and declare ${tenantProperty} on the entity.`,
    );
}
