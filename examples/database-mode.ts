import { defineConfig } from '@mikro-orm/postgresql';
import { type MikroTenancyModuleOptions, TenantStores } from 'nestjs-mikro-tenancy';
import { common } from './common.js';
import { Note, Tenant } from './tenancy.entities.js';

export const databaseModeOptions: MikroTenancyModuleOptions = {
tenancy: {
  isolation: 'database',
  // template: entities, credentials, driver options; dbName is set per tenant
  config: defineConfig({ ...common, host: 'db', user: 'app', password: process.env.DB_PASSWORD, entities: [Note] }),
  store: TenantStores.table(Tenant),
  database: (tenant) => ({ dbName: `tenant_${tenant.id}` }), // this is the default; any connection options, merged over config
  pool: { maxOpenTenants: 50, idleTimeoutMs: 300_000, acquireTimeoutMs: 5_000, connectionsPerTenant: 5 },
}
};
