import type { Logger } from '@nestjs/common';
import type { ActiveTenant } from '../scope/active-tenant.js';
import { DatabaseIsolation } from '../isolation/database/database-isolation.js';
import { SchemaIsolation } from '../isolation/schema/schema-isolation.js';
import type { TenantIsolationStrategy } from '../isolation/tenant-isolation.js';
import { TenantResolverChain } from '../resolution/tenant-resolver-chain.js';
import { TenantDirectory } from '../tenants/tenant-directory.js';
import { printableTenantId } from '../tenants/tenant-id-rules.js';
import type { TenantRecord, TenantStore } from '../tenants/tenant-store.js';
import type { NormalizedTenancy } from '../options/options-validation.js';
import { driverClassesOf } from '../options/driver-classes.js';

/** The tenant side of one module instance: resolution, lookup, and the isolation strategy. */
export class TenantRuntime<T extends TenantRecord = TenantRecord> {
  readonly chain: TenantResolverChain;
  readonly directory: TenantDirectory<T>;

  private constructor(
    readonly options: NormalizedTenancy<T>,
    readonly isolation: TenantIsolationStrategy<T>,
    /** Prototype of the driver's EntityManager, so injected proxies pass `instanceof` checks. */
    readonly entityManagerPrototype: object,
  ) {
    this.chain = new TenantResolverChain(options.resolvers);
    this.directory = new TenantDirectory(options.store, options.ids, options.cacheTtlMs);
  }

  /** The tenant context's name (`@InjectEntityManager(name)`). */
  get contextName(): string {
    return this.options.contextName;
  }

  get store(): TenantStore<T> {
    return this.options.store;
  }

  /** Throws InvalidTenantIdError (400) naming the broken rule. */
  validateId(id: string): void {
    this.directory.ids.validate(id);
  }

  /** Whether an id passes the id rules (ids read from the store are checked like request ids). */
  isValidId(id: string): boolean {
    return this.directory.ids.problemOf(id) === undefined;
  }

  /** An id for a log line: as is when valid, escaped otherwise (never raw). */
  printableId(id: unknown): string {
    return printableTenantId(id, this.directory.ids);
  }

  static async create<T extends TenantRecord>(options: NormalizedTenancy<T>, logger: Logger, currentTenantId: () => string | undefined): Promise<TenantRuntime<T>> {
    if (options.isolation === 'schema') {
      const isolation = await SchemaIsolation.open<T>({
        contextName: options.contextName,
        template: options.config,
        schemaName: options.schemaName,
        searchPath: options.searchPath,
        reservedSchemas: options.reservedSchemas,
        currentTenantId,
        logger,
      });
      return new TenantRuntime(options, isolation, Object.getPrototypeOf(isolation.orm.em) as object);
    }
    const isolation = new DatabaseIsolation<T>({
      contextName: options.contextName,
      template: options.config,
      database: options.database,
      pool: options.pool,
      reservedDatabases: options.reservedDatabases,
      logger,
    });
    return new TenantRuntime(options, isolation, driverClassesOf(options.config).entityManager.prototype as object);
  }

  /** Validates, looks up (cached) and opens the tenant: 400, 404, 403 or 503 when it cannot. */
  async enter(tenantId: string): Promise<ActiveTenant<T>> {
    const record = await this.directory.get(tenantId);
    return this.isolation.acquire(record);
  }

  close(): Promise<void> {
    return this.isolation.close();
  }
}

