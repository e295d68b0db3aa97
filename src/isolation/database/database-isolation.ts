import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { ActiveTenant, PLAIN_TENANT_FORK } from '../../scope/active-tenant.js';
import { TenantStorageConflictError } from '../../errors/isolation.errors.js';
import { TenancyError } from '../../errors/tenancy.error.js';
import { TenantUnavailableError } from '../../errors/tenant.errors.js';
import type { ContextConfig, TenantPoolOptions } from '../../options/tenancy-options.js';
import { validateDerivedIdentifier } from '../../tenants/tenant-id-rules.js';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { TenantHealth, TenantIsolationStrategy, TenantMigrationAccess } from '../tenant-isolation.js';
import { DatabaseProvisioning } from './database-provisioning.js';
import { tenantOrmOptions } from '../tenant-isolation.js';
import { openConnectedOrm } from '../open-orm.js';
import { TenantOrmPool } from '../tenant-orm-pool.js';
import { ThrottledWarnings } from '../throttled-warnings.js';
import { StorageClaims } from '../storage-owner.js';
import { foreignOwnerOfOpenedDatabase } from '../opened-database.js';
import { resolveTenantConnection } from './tenant-connection.js';
import { tenantEntityManagerClass } from '../tenant-entity-manager.js';
import { checkConnectionBudget } from './connection-budget.js';
import { tenantDatabaseDriverClass, tenantIdOfOrm, tenantOrmContextName } from './tenant-database-driver.js';

export interface DatabaseIsolationSettings<T extends TenantRecord> {
  contextName: string;
  template: ContextConfig;
  database: (tenant: T) => Partial<ContextConfig>;
  pool: Required<TenantPoolOptions>;
  /** Databases no tenant may use: the static contexts'. */
  reservedDatabases: readonly string[];
  /** The static contexts, for the boot-time connection budget check (those on the tenant server count). */
  staticContexts: ReadonlyMap<string, ContextConfig>;
  logger: Logger;
}

/**
 * One MikroORM per tenant database, kept in a bounded pool (see TenantOrmPool). A tenant's connection options are
 * computed and checked here (tenant-connection.ts), and each opened ORM is checked to really be in the tenant's
 * database, and that database to be this tenant's (storage-owner.ts), before it serves anything.
 */
export class DatabaseIsolation<T extends TenantRecord = TenantRecord> implements TenantIsolationStrategy<T> {
  readonly kind = 'database' as const;
  readonly pool: TenantOrmPool;
  readonly provisioning: DatabaseProvisioning<T>;
  /** Each tenant's migrations run on an ORM of its own database, checked to be that database. */
  readonly migrations: TenantMigrationAccess<T> = {
    sharedOrm: false,
    shared: false,
    ormConfig: (record) => (record ? this.ormOptions(record) : this.settings.template),
    target: (record) => ({ database: this.ormOptions(record).dbName }),
  };
  readonly #openFailures: ThrottledWarnings;
  readonly #claims = new StorageClaims();
  /** One EntityManager class and one driver class for every tenant ORM (see tenantDatabaseDriverClass: why). */
  readonly #classes: Pick<ContextConfig, 'entityManager' | 'driver'>;
  readonly #budgetChecked: Promise<unknown>;

  constructor(private readonly settings: DatabaseIsolationSettings<T>) {
    this.#openFailures = new ThrottledWarnings(settings.logger);
    this.pool = new TenantOrmPool(settings.pool, settings.logger);
    this.provisioning = new DatabaseProvisioning(this, settings.logger);
    this.#classes = {
      entityManager: tenantEntityManagerClass(settings.template, (em) => `tenant:${tenantIdOfOrm(em.name)}`),
      driver: tenantDatabaseDriverClass(settings.template) as ContextConfig['driver'],
    };
    // advice only (never rejects): boot does not wait for it; close() does, so its connection never outlives the app
    this.#budgetChecked = checkConnectionBudget(settings);
  }

  /** Connection options of a tenant (template + `database(tenant)`), validated: see resolveTenantConnection. */
  ormOptions(record: T): ContextConfig & { dbName: string } {
    const { template, pool, contextName } = this.settings;
    const overrides = this.settings.database(record);
    const { options, dbName } = resolveTenantConnection(record.id, template, overrides, this.settings.reservedDatabases);
    validateDerivedIdentifier('database', dbName, record.id, this.settings.reservedDatabases);
    const tenantOptions = tenantOrmOptions(options, tenantOrmContextName(contextName, record.id), {
      pool: { ...template.pool, ...overrides.pool, max: pool.connectionsPerTenant },
      // waiting for a pooled connection is bounded too (pg's own pool would otherwise queue without limit)
      driverOptions: { connectionTimeoutMillis: pool.acquireTimeoutMs, ...template.driverOptions, ...overrides.driverOptions },
    });
    return { ...tenantOptions, dbName };
  }

  describe(record: T): string {
    return `database "${this.ormOptions(record).dbName}"`;
  }

  async acquire(record: T): Promise<ActiveTenant<T>> {
    const lease = await this.pool.acquire(record.id, () => this.open(record));
    return new ActiveTenant(record, lease.orm.em, PLAIN_TENANT_FORK, lease.release);
  }

  acquireNow(record: T): ActiveTenant<T> | undefined {
    const lease = this.pool.leaseIfOpen(record.id);
    return lease && new ActiveTenant(record, lease.orm.em, PLAIN_TENANT_FORK, lease.release);
  }

  /** Closes the tenant's ORM once its requests are done and forgets its claim (drop). */
  async forgetTenant(tenantId: string): Promise<void> {
    this.#claims.releaseTenant(tenantId);
    await this.pool.evict(tenantId);
  }

  /** Each tenant's database is checked by its requests; the report shows the pool (open, closing, budget...). */
  health(): TenantHealth {
    return { details: { isolation: 'database', ...this.pool.stats() } };
  }

  /**
   * Nothing to take back: every tenant ORM has the same (plain) metadata, and every ORM the library opens on the
   * tenant entities answers "hydrating?" from one shared state (tenantOrmOptions, shared-hydration-state.ts), so
   * whichever of them decorated the prototypes last, another tenant's flushes write only what they changed.
   */
  reclaimEntityPrototypes(): void {}

  async close(): Promise<void> {
    await this.#budgetChecked;
    await this.pool.close();
  }

  private async open(record: T): Promise<MikroORM> {
    const tenantId = record.id;
    const options = { ...this.ormOptions(record), ...this.#classes };
    const taken = this.#claims.claim(options.dbName, tenantId);
    if (taken !== undefined) throw this.conflict(record, options.dbName, taken);
    let orm: MikroORM;
    try {
      orm = await openConnectedOrm(options, this.settings.logger, `tenant '${tenantId}'`);
    } catch (error) {
      this.#claims.release(options.dbName, tenantId);
      if (error instanceof TenancyError) throw error;
      this.#openFailures.warn(tenantId, `Tenant '${tenantId}' database could not be opened: ${String(error)}; answered 503`);
      throw new TenantUnavailableError(tenantId, error);
    }
    try {
      await this.checkLandedIn(orm, record, options.dbName);
      return orm;
    } catch (error) {
      this.#claims.release(options.dbName, tenantId);
      await orm.close().catch((closeError: unknown) => this.settings.logger.warn(`Closing tenant '${tenantId}' after a failed check: ${String(closeError)}`));
      throw error;
    }
  }

  /** The opened connection is in the tenant's database, and that database is not marked as another tenant's. */
  private async checkLandedIn(orm: MikroORM, record: T, dbName: string): Promise<void> {
    const fix = 'Check tenancy.database() and tenancy.config (clientUrl, dbName, driverOptions).';
    const owner = await foreignOwnerOfOpenedDatabase(orm, record.id, dbName, fix, this.settings.logger);
    if (owner !== undefined) throw this.conflict(record, dbName, owner);
  }

  private conflict(record: T, dbName: string, otherTenantId: string): TenantStorageConflictError {
    this.#openFailures.warn(
      `conflict:${record.id}`,
      `Tenant '${record.id}' derives database "${dbName}", which belongs to tenant '${otherTenantId}': refused. ` +
        `Fix tenancy.database() so that every tenant derives its own database.`,
    );
    return new TenantStorageConflictError(record.id, `database "${dbName}"`, otherTenantId, 'open');
  }
}
