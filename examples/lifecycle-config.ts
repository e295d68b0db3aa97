import { defineConfig } from '@mikro-orm/postgresql';
import { type MikroTenancyModuleOptions, TenantStores } from 'nestjs-mikro-tenancy';
import { common } from './common.js';
import { Project, Task } from './entities.js';
import { Tenant } from './tenancy.entities.js';

export const lifecycleOptions: MikroTenancyModuleOptions = {
tenancy: {
  isolation: 'schema',
  store: TenantStores.table(Tenant),
  config: defineConfig({
    ...common,
    clientUrl: process.env.DATABASE_URL,
    entities: [Project, Task],
    // one folder for the tenant set; the snapshot name does not depend on a database name
    migrations: { path: 'dist/migrations/tenant', pathTs: 'src/migrations/tenant', snapshotName: '.snapshot-tenant' },
  }),
  seed: async (em, tenant) => {
    em.create(Project, { name: `Welcome, ${tenant.id}` }); // flushed for you
  },
},
};
