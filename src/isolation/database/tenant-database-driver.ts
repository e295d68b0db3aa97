import { type DriverException, type IDatabaseDriver, TableNotFoundException } from '@mikro-orm/core';
import type { ContextConfig } from '../../options/tenancy-options.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DriverClass = new (...args: any[]) => IDatabaseDriver;

/**
 * Database mode: the driver of one tenant's ORM tags "relation does not exist" with the tenant, so the HTTP layer
 * can tell a table gone from under a request because the tenant moved (its source schema renamed away under a
 * waiting write: 503 TenantMovingError) from any other (answered as before). Same message, still a
 * TableNotFoundException.
 */
export function tenantDatabaseDriverClass(template: ContextConfig, tenantId: string): DriverClass {
  const Base = template.driver as unknown as DriverClass;
  class TenantDatabaseDriver extends Base {
    override convertException(exception: Error): DriverException {
      const converted = super.convertException(exception);
      return converted instanceof TableNotFoundException ? new TenantDatabaseTableMissingException(converted, tenantId) : converted;
    }
  }
  return TenantDatabaseDriver;
}

/** A table of a database-mode tenant's database does not exist (MikroORM's message unchanged). */
export class TenantDatabaseTableMissingException extends TableNotFoundException {
  constructor(original: TableNotFoundException, readonly tenantId: string) {
    super(Object.assign(new Error(original.message), { code: original.code, sqlState: original.sqlState }));
    this.name = 'TableNotFoundException';
    this.cause = original;
  }
}
