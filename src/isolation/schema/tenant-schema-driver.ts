import { type DriverException, type IDatabaseDriver, TableNotFoundException } from '@mikro-orm/core';
import type { ContextConfig } from '../../options/tenancy-options.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DriverClass = new (...args: any[]) => IDatabaseDriver;

/**
 * Schema mode: a table name a query left unqualified fails (the tenant connections' search_path holds no tenant
 * table). MikroORM's "relation does not exist" then says nothing about why; this driver's errors do: which tenant,
 * that nothing was read or written, and what to change. Still a TableNotFoundException, so code that catches
 * MikroORM's exceptions keeps working. `convertException` is MikroORM's one place where driver errors are mapped
 * (test/unit/tenant-schema-driver.spec.ts breaks if it changes).
 */
export function tenantSchemaDriverClass(template: ContextConfig, currentTenantId: () => string | undefined): DriverClass {
  const Base = template.driver as unknown as DriverClass;
  class TenantSchemaDriver extends Base {
    override convertException(exception: Error): DriverException {
      const converted = super.convertException(exception);
      if (!(converted instanceof TableNotFoundException)) return converted;
      return new TenantTableNotFoundException(converted, currentTenantId());
    }
  }
  return TenantSchemaDriver;
}

export class TenantTableNotFoundException extends TableNotFoundException {
  constructor(original: TableNotFoundException, tenantId: string | undefined) {
    super(Object.assign(new Error(explain(original.message, tenantId)), { code: original.code, sqlState: original.sqlState }));
    this.name = 'TableNotFoundException';
    this.cause = original;
  }
}

function explain(message: string, tenantId: string | undefined): string {
  const tenant = tenantId === undefined ? 'schema isolation' : `tenant '${tenantId}', schema isolation`;
  const relation = /relation "([^"]+)" does not exist/.exec(message)?.[1];
  if (relation?.includes('.')) {
    return `${message} (${tenant}): the tenant's schema lacks this table. Apply the tenant migrations: \`mikro-tenancy migrate up\`${tenantId ? ` --tenant ${tenantId}` : ''}.`;
  }
  return (
    `${message} (${tenant}): the query named the table without the tenant's schema, and tenant connections resolve no ` +
    `unqualified table, so nothing was read or written. Qualify tenant tables with em.schema in hand-written SQL and ` +
    `formulas, or use em.find, the QueryBuilder or em.getKysely(), which are scoped. MikroORM 7.2 paths known to drop ` +
    `the fork's schema: Collection.matching() on a many-to-many (pass { schema: em.schema }), and a formula's ` +
    `table.schema in where and orderBy conditions.`
  );
}
