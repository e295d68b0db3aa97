import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { ActiveTenant } from '../context/active-tenant.js';
import { TenancyError } from '../errors/tenancy.error.js';
import { TenantUnavailableError } from '../errors/tenant.errors.js';
import type { ContextConfig, TenantPoolOptions } from '../module/tenancy-options.js';
import { validateDerivedIdentifier } from '../tenants/tenant-id-rules.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import type { TenantIsolationStrategy } from './tenant-isolation.js';
import { tenantOrmOptions } from './tenant-isolation.js';
import { openConnectedOrm } from './open-orm.js';
import { TenantOrmPool } from './tenant-orm-pool.js';
import { ThrottledWarnings } from '../module/throttled-warnings.js';

export interface DatabaseIsolationSettings<T extends TenantRecord> {
  contextName: string;
  template: ContextConfig;
  database: (tenant: T) => Partial<ContextConfig>;
  pool: Required<TenantPoolOptions>;
  logger: Logger;
}

/** One MikroORM per tenant database, kept in a bounded pool (see TenantOrmPool). */
export class DatabaseIsolation<T extends TenantRecord = TenantRecord> implements TenantIsolationStrategy<T> {
  readonly kind = 'database' as const;
  readonly pool: TenantOrmPool;
  readonly #openFailures: ThrottledWarnings;
  constructor(private readonly settings: DatabaseIsolationSettings<T>) {
    this.#openFailures = new ThrottledWarnings(settings.logger);
    this.pool = new TenantOrmPool(settings.pool, settings.logger);
  }

  /** Connection options of a tenant (template + `database(tenant)`), validated. */
  ormOptions(record: T): ContextConfig {
    const overrides = this.settings.database(record);
    if (overrides.dbName !== undefined) validateDerivedIdentifier('database', overrides.dbName, record.id);
    const { template, pool, contextName } = this.settings;
    return tenantOrmOptions(template, `${contextName}:${record.id}`, {
      ...overrides,
      pool: { ...template.pool, ...overrides.pool, max: pool.connectionsPerTenant },
      // waiting for a pooled connection is bounded too (pg's own pool would otherwise queue without limit)
      driverOptions: { connectionTimeoutMillis: pool.acquireTimeoutMs, ...template.driverOptions, ...overrides.driverOptions },
    });
  }

  async acquire(record: T): Promise<ActiveTenant<T>> {
    const lease = await this.pool.acquire(record.id, () => this.open(record));
    return new ActiveTenant(record, lease.orm.em, undefined, lease.release);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async open(record: T): Promise<MikroORM> {
    const tenantId = record.id;
    const options = this.ormOptions(record);
    try {
      return await openConnectedOrm(options, this.settings.logger, `tenant '${tenantId}'`);
    } catch (error) {
      if (error instanceof TenancyError) throw error;
      this.#openFailures.warn(tenantId, `Tenant '${tenantId}' database could not be opened: ${String(error)}; answered 503`);
      throw new TenantUnavailableError(tenantId, error);
    }
  }
}
