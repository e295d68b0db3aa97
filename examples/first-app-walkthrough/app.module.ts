import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { MikroTenancyModule, TenantStores } from 'nestjs-mikro-tenancy';
import { Project, Task, Tenant } from './entities.js';
import { ProjectsController } from './projects.controller.js';

const common = {
  clientUrl: process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@localhost:5432/first_app',
  metadataProvider: ReflectMetadataProvider, // legacy decorators: property types come from reflect-metadata
};

@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: {
        // the hub: the tenant table, and anything else every tenant shares
        default: defineConfig({
          ...common,
          entities: [Tenant],
          migrations: { path: 'dist/migrations/hub', pathTs: 'src/migrations/hub', snapshotName: '.snapshot-hub' },
        }),
      },
      tenancy: {
        isolation: 'schema', // a schema per tenant (tenant_acme, tenant_globex), in the hub's database
        config: defineConfig({
          ...common,
          entities: [Project, Task],
          migrations: { path: 'dist/migrations/tenant', pathTs: 'src/migrations/tenant', snapshotName: '.snapshot-tenant' },
        }),
        store: TenantStores.table(Tenant), // the tenants are the rows of Tenant in the hub
        // resolve: by default, the x-tenant-id header
      },
    }),
    MikroTenancyModule.forFeature([Project, Task], 'tenant'),
  ],
  controllers: [ProjectsController],
})
export class AppModule {}
