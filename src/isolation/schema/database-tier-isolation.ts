import type { MikroORM } from '@mikro-orm/core';
import { ActiveTenant } from '../../scope/active-tenant.js';
import type { ContextConfig, TenantPoolOptions } from '../../options/tenancy-options.js';
import { validateDerivedIdentifier } from '../../tenants/tenant-id-rules.js';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { TenantHealth, TenantIsolationStrategy, TenantMigrationAccess } from '../tenant-isolation.js';
import { DatabaseProvisioning } from '../database/database-provisioning.js';
import { openConnectedOrm } from '../open-orm.js';
import { TenantOrmPool } from '../tenant-orm-pool.js';
import { ThrottledWarnings } from '../throttled-warnings.js';
import { TenancyError } from '../../errors/tenancy.error.js';
import { TenantUnavailableError } from '../../errors/tenant.errors.js';
import { TenantStorageConflictError } from '../../errors/isolation.errors.js';
import { foreignOwnerOfOpenedDatabase } from '../opened-database.js';
import { SchemaIsolation, type SchemaIsolationSettings } from './schema-isolation.js';
import { schemaModeMetadata } from './mixed-tier-metadata.js';
import { mixedTierSchemaPrelude } from './mixed-tier-functions.js';

export interface DatabaseTierSettings<T extends TenantRecord> extends SchemaIsolationSettings<T> {
  /** The database of a database-tier tenant (on its server). */
  databaseName: (tenant: T) => string;
  pool: Required<TenantPoolOptions>;
  /** Databases no tenant may take: the template's and the static contexts'. */
  reservedDatabases: readonly string[];
}

/**
 * Schema isolation's database tier: a tenant whose record says `tier: 'database'` has a database of its own on its
 * server, holding its schema (the same schema as in the tenant database, so moving between tiers copies one schema).
 * Each such tenant is served by a schema-mode ORM on its database, with the same three layers as SchemaIsolation
 * (every table qualified, Kysely and cache scoped, a search_path that resolves no table), kept in a bounded pool
 * like database isolation's (`tenancy.pool`: at most maxOpenTenants open, idle ones closed).
 */
export class DatabaseTierIsolation<T extends TenantRecord = TenantRecord> implements TenantIsolationStrategy<T> {
  readonly kind = 'schema' as const;
  readonly pool: TenantOrmPool;
  readonly provisioning: DatabaseProvisioning<T>;
  readonly migrations: TenantMigrationAccess<T> = {
    sharedOrm: false,
    shared: false,
    ormConfig: (record) => {
      const { template, contextName, mixedTier } = this.settings;
      const config = { ...template, ...schemaModeMetadata(template, contextName, mixedTier, { wildcardSchema: true }) };
      return record ? { ...config, dbName: this.databaseOf(record) } : config;
    },
    target: (record) => {
      const schema = this.schemaOf(record);
      const { mixedTier } = this.settings;
      return { schema, ...(mixedTier ? { before: mixedTierSchemaPrelude(schema, { tenantId: record.id }, mixedTier) } : {}) };
    },
  };
  /** The SchemaIsolation of each open tenant ORM (it checks the tenant's schema and the search_path). */
  readonly #byOrm = new WeakMap<MikroORM, SchemaIsolation<T>>();
  readonly #openFailures: ThrottledWarnings;

  constructor(private readonly settings: DatabaseTierSettings<T>) {
    this.pool = new TenantOrmPool(settings.pool, settings.logger);
    this.#openFailures = new ThrottledWarnings(settings.logger);
    this.provisioning = new DatabaseProvisioning<T>(
      { ormOptions: (record) => ({ ...settings.template, dbName: this.databaseOf(record) }), forgetTenant: (id) => this.forgetTenant(id) },
      settings.logger,
    );
  }

  /** The validated database of a database-tier tenant (400 when the derived name is unsafe, too long or reserved). */
  databaseOf(record: T): string {
    const name = this.settings.databaseName(record);
    validateDerivedIdentifier('database', name, record.id, this.settings.reservedDatabases);
    return name;
  }

  schemaOf(record: T): string {
    const schema = this.settings.schemaName(record);
    validateDerivedIdentifier('schema', schema, record.id, this.settings.reservedSchemas);
    return schema;
  }

  describe(record: T): string {
    return `database "${this.databaseOf(record)}" (holding schema "${this.schemaOf(record)}")`;
  }

  async acquire(record: T): Promise<ActiveTenant<T>> {
    const lease = await this.pool.acquire(record.id, () => this.open(record));
    try {
      // the tenant's schema checked (exists, is its own) and the search_path, once per ORM
      return await (this.#byOrm.get(lease.orm) as SchemaIsolation<T>).acquire(record, lease.release);
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  acquireNow(record: T): ActiveTenant<T> | undefined {
    const lease = this.pool.leaseIfOpen(record.id);
    if (!lease) return undefined;
    const active = this.#byOrm.get(lease.orm)?.acquireNow(record, lease.release);
    if (!active) lease.release();
    return active;
  }

  health(): TenantHealth {
    return { details: { isolation: 'schema', tier: 'database', ...this.pool.stats() } };
  }

  /** Every ORM here has the same wildcard metadata as the schema tier's: nothing differs on the prototypes. */
  reclaimEntityPrototypes(): void {}

  async forgetTenant(tenantId: string): Promise<void> {
    await this.pool.evict(tenantId);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async open(record: T): Promise<MikroORM> {
    const { template, pool, contextName, logger } = this.settings;
    const config: ContextConfig = {
      ...template,
      dbName: this.databaseOf(record),
      pool: { ...template.pool, max: pool.connectionsPerTenant },
      driverOptions: { connectionTimeoutMillis: pool.acquireTimeoutMs, ...(template.driverOptions as object | undefined) },
    };
    const label = `tenant '${record.id}' (database tier)`;
    let isolation: SchemaIsolation<T>;
    try {
      isolation = await SchemaIsolation.open<T>({ ...this.settings, template: config, contextName }, (options) => openConnectedOrm(options, logger, label));
    } catch (error) {
      if (error instanceof TenancyError) throw error;
      this.#openFailures.warn(record.id, `Tenant '${record.id}' (database tier): its database could not be opened: ${String(error)}; answered 503`);
      throw new TenantUnavailableError(record.id, error);
    }
    try {
      await this.checkDatabaseOwner(isolation.orm, record, config.dbName as string);
    } catch (error) {
      await isolation.close().catch((closeError: unknown) => logger.warn(`Closing tenant '${record.id}' (database tier) after a failed check: ${String(closeError)}`));
      throw error;
    }
    this.#byOrm.set(isolation.orm, isolation);
    return isolation.orm;
  }

  /**
   * The database, not only the schema, must be the tenant's: a database marked as another tenant's is never served
   * (an unmarked one is, as storage made by hand or by older versions is; see storage-owner.ts).
   */
  private async checkDatabaseOwner(orm: MikroORM, record: T, dbName: string): Promise<void> {
    const owner = await foreignOwnerOfOpenedDatabase(orm, record.id, dbName, 'Check tenancy.databaseTier.dbName and tenancy.config.', this.settings.logger);
    if (owner === undefined) return;
    this.#openFailures.warn(`conflict:${record.id}`, `Tenant '${record.id}' derives database "${dbName}" (database tier), which belongs to tenant '${owner}': refused. Fix tenancy.databaseTier.dbName so that every tenant derives its own database.`);
    throw new TenantStorageConflictError(record.id, `database "${dbName}"`, owner, 'open');
  }
}
