import { type DriverException, type IDatabaseDriver, TableNotFoundException } from '@mikro-orm/core';
import type { ContextConfig } from '../../options/tenancy-options.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DriverClass = new (...args: any[]) => IDatabaseDriver;

/** The context name of a tenant's ORM in database mode: the tenant context's name (no ':' in it), ':', the tenant id. */
export const tenantOrmContextName = (contextName: string, tenantId: string): string => `${contextName}:${tenantId}`;

/** The tenant id of a database-mode tenant ORM, from its context name (see tenantOrmContextName). */
export function tenantIdOfOrm(contextName: string): string {
  return contextName.slice(contextName.indexOf(':') + 1);
}

/**
 * Database mode: the driver of the tenant ORMs tags "relation does not exist" with the tenant, so the HTTP layer
 * can tell a table gone from under a request because the tenant moved (its source schema renamed away under a
 * waiting write: 503 TenantMovingError) from any other (answered as before). Same message, still a
 * TableNotFoundException.
 *
 * One class for every tenant ORM (the tenant comes from the ORM's context name), not one per tenant: MikroORM's
 * call sites on the driver then see one shape however many tenants are open, which V8 optimises best.
 */
export function tenantDatabaseDriverClass(template: ContextConfig): DriverClass {
  const Base = template.driver as unknown as DriverClass;
  class TenantDatabaseDriver extends Base {
    override convertException(exception: Error): DriverException {
      const converted = super.convertException(exception);
      if (!(converted instanceof TableNotFoundException)) return converted;
      const contextName = (this as unknown as { config: { get(key: 'contextName'): string } }).config.get('contextName');
      return new TenantDatabaseTableMissingException(converted, tenantIdOfOrm(contextName));
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
