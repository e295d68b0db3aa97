import { defineConfig } from '@mikro-orm/postgresql';
import { type MikroTenancyModuleOptions, TenantStores } from 'nestjs-mikro-tenancy';
import { common } from './common.js';
import { Note, Tenant } from './tenancy.entities.js';

export const sharedTablesOptions: MikroTenancyModuleOptions = {
contexts: { default: defineConfig({ ...common, dbName: 'app', entities: [Tenant] }) },
tenancy: {
  isolation: 'table',
  // the app's role: not the tables' owner, no SUPERUSER, no BYPASSRLS (checked at boot)
  config: defineConfig({ ...common, dbName: 'app', user: 'app_runtime', password: process.env.DB_PASSWORD, entities: [Note] }),
  store: TenantStores.table(Tenant),
  sharedTables: {
    column: 'tenant_id', // the defaults, shown
    property: 'tenantId',
    type: 'text', // or 'uuid', 'int', 'bigint', as your tenant ids
    rowLevelSecurity: true,
    setting: 'nmt.tenant_id',
    uniques: 'per-tenant',
    bypassingRole: 'refuse',
  },
}
};
