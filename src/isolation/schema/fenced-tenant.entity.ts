import { EntitySchema } from '@mikro-orm/core';

/** The table of tenants whose writes are held while they move between tiers (`nmt_fenced_tenant`). */
export interface FencedTenant {
  id: string;
  fencedAt?: Date;
}

export const FENCED_TENANT_TABLE = 'nmt_fenced_tenant';

/** Whether an entity is this table (never a tenant table itself). */
export const isFencedTenantTable = (meta: { className: string; tableName?: string }): boolean =>
  meta.className === 'NmtFencedTenant' || meta.tableName === FENCED_TENANT_TABLE;

/**
 * Mixed tiers: a tenant's row here makes every tenant table's fence trigger refuse that tenant's inserts, updates
 * and deletes (SQLSTATE 55000), whichever app instance writes, while its rows move out of the shared tables or into
 * them. Other tenants of the same tables write on. Part of the tenant migrations, so every tier has it.
 */
export const FencedTenantSchema = new EntitySchema<FencedTenant>({
  name: 'NmtFencedTenant',
  tableName: FENCED_TENANT_TABLE,
  properties: {
    id: { type: 'string', primary: true, fieldName: 'tenant_id', columnType: 'text' },
    fencedAt: { type: 'datetime', fieldName: 'fenced_at', defaultRaw: 'current_timestamp', nullable: true },
  },
});
