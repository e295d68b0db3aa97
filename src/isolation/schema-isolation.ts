import type { MikroORM } from '@mikro-orm/core';
import { ActiveTenant } from '../context/active-tenant.js';
import { validateDerivedIdentifier } from '../tenants/tenant-id-rules.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import type { TenantIsolationStrategy } from './tenant-isolation.js';

/**
 * One ORM and one connection pool for every tenant; each request's fork is pinned to the tenant's schema
 * (`em.fork({ schema })` schema-qualifies every table, so no `search_path` is ever shared between requests).
 */
export class SchemaIsolation<T extends TenantRecord = TenantRecord> implements TenantIsolationStrategy<T> {
  readonly kind = 'schema' as const;

  constructor(
    readonly orm: MikroORM,
    private readonly schemaNameOf: (tenant: T) => string,
  ) {}

  /** The validated schema of a tenant (400 when the derived name is unsafe or would be truncated). */
  schemaOf(record: T): string {
    const schema = this.schemaNameOf(record);
    validateDerivedIdentifier('schema', schema, record.id);
    return schema;
  }

  acquire(record: T): ActiveTenant<T> {
    return new ActiveTenant(record, this.orm.em, this.schemaOf(record));
  }

  async close(): Promise<void> {
    await this.orm.close();
  }
}
