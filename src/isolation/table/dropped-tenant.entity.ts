import { EntitySchema } from '@mikro-orm/core';

/** The table of tenants dropped from the shared tables (`nmt_dropped_tenant`), part of the tenant migrations. */
export interface DroppedTenant {
  id: string;
  droppedAt?: Date;
}

export const DROPPED_TENANT_TABLE = 'nmt_dropped_tenant';

/** Whether an entity is this table (never a tenant table itself, whatever the tenant property is named). */
export const isDroppedTenantTable = (meta: { className: string; tableName?: string }): boolean =>
  meta.className === 'NmtDroppedTenant' || meta.tableName === DROPPED_TENANT_TABLE;

/**
 * Shared tables: a tenant's row here, committed when a drop begins, makes every later write of that tenant fail
 * the tables' policies, whatever the path and whichever app instance (one that has not heard of the drop too). So
 * nothing written after the drop outlives it. Removed when a tenant of that id is created again.
 */
export const DroppedTenantSchema = new EntitySchema<DroppedTenant>({
  name: 'NmtDroppedTenant',
  tableName: DROPPED_TENANT_TABLE,
  properties: {
    id: { type: 'string', primary: true, fieldName: 'tenant_id', columnType: 'text' },
    droppedAt: { type: 'datetime', fieldName: 'dropped_at', defaultRaw: 'current_timestamp', nullable: true },
  },
});
