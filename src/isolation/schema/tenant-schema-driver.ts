import { type DriverException, type IDatabaseDriver, TableNotFoundException } from '@mikro-orm/core';
import type { ContextConfig } from '../../options/tenancy-options.js';
import { asFencedWrite } from './fenced-write.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DriverClass = new (...args: any[]) => IDatabaseDriver;

/**
 * Schema mode: a table name a query left unqualified fails (the tenant connections' search_path holds no tenant
 * table). MikroORM's "relation does not exist" then says nothing about why; this driver's errors do: which tenant,
 * that nothing was read or written, and what to change. Still a TableNotFoundException, so code that catches
 * MikroORM's exceptions keeps working. A write refused by the mixed tiers' fence becomes a TenantWriteFencedException.
 * `convertException` is MikroORM's one place where driver errors are mapped
 * (test/unit/tenant-schema-driver.spec.ts breaks if it changes).
 */
export function tenantSchemaDriverClass(
  template: ContextConfig,
  currentTenantId: () => string | undefined,
  onTenantTableMissing: (tenantId: string) => void = () => undefined,
): DriverClass {
  const Base = template.driver as unknown as DriverClass;
  class TenantSchemaDriver extends Base {
    override convertException(exception: Error): DriverException {
      const converted = super.convertException(exception);
      if (!(converted instanceof TableNotFoundException)) return asFencedWrite(converted, currentTenantId());
      const tenantId = currentTenantId();
      if (tenantId === undefined || !isQualified(converted.message)) return new TenantTableNotFoundException(converted, tenantId);
      // the tenant's own schema lacks the table: dropped (maybe by another app instance) or not migrated
      onTenantTableMissing(tenantId);
      return new TenantSchemaTableMissingException(converted, tenantId);
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

/**
 * A table of the current tenant's own schema does not exist: the schema was dropped (a drop under way, perhaps by
 * another app instance) or the tenant's migrations are not applied. Answered 503 over HTTP (TenantSchemaIncompleteError
 * or TenantDroppingError), never 500: it is the tenant's state, not a bug in the request.
 */
export class TenantSchemaTableMissingException extends TenantTableNotFoundException {
  constructor(original: TableNotFoundException, readonly tenantId: string) {
    super(original, tenantId);
  }
}

/** `relation "schema.table" does not exist`: the query named the schema. */
function isQualified(message: string): boolean {
  return /relation "[^"]+\.[^"]+" does not exist/.test(message);
}

function explain(message: string, tenantId: string | undefined): string {
  const tenant = tenantId === undefined ? 'schema isolation' : `tenant '${tenantId}', schema isolation`;
  const relation = /relation "([^"]+)" does not exist/.exec(message)?.[1];
  if (relation?.includes('.')) {
    return (
      `${message} (${tenant}): the tenant's schema lacks this table: it is being dropped, or its migrations are not ` +
      `applied (\`mikro-tenancy migrate up${tenantId ? ` --tenant ${tenantId}` : ''}\`).`
    );
  }
  return (
    `${message} (${tenant}): the query named the table without the tenant's schema, and tenant connections resolve no ` +
    `unqualified table, so nothing was read or written. Qualify tenant tables with em.schema in hand-written SQL and ` +
    `formulas, or use em.find, the QueryBuilder or em.getKysely(), which are scoped. MikroORM 7.2 paths known to drop ` +
    `the fork's schema: Collection.matching() on a many-to-many (pass { schema: em.schema }), and a formula's ` +
    `table.schema in where and orderBy conditions.`
  );
}
