import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { MikroTenancyModule, TenantStores } from 'nestjs-mikro-tenancy';
import { Note, Tenant } from './entities.js';
import { NotesController, NotesService } from './notes.js';

const common = {
  clientUrl: process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@localhost:5432/app',
  metadataProvider: ReflectMetadataProvider, // legacy decorators read property types from reflect-metadata
};

@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: {
        // the hub: the tenant table, and anything else every tenant shares
        default: defineConfig({
          ...common,
          entities: [Tenant],
          migrations: { path: 'dist/migrations/hub', pathTs: 'src/migrations/hub' },
        }),
      },
      tenancy: {
        isolation: 'schema', // one schema per tenant (tenant_acme, ...), here in the same database
        config: defineConfig({
          ...common,
          entities: [Note],
          migrations: { path: 'dist/migrations/tenant', pathTs: 'src/migrations/tenant', snapshotName: '.snapshot-tenant' },
        }),
        store: TenantStores.table(Tenant), // tenants are the rows of Tenant in 'default'
        // resolve: by default the x-tenant-id header
      },
    }),
    MikroTenancyModule.forFeature([Note], 'tenant'),
  ],
  controllers: [NotesController],
  providers: [NotesService],
})
export class AppModule {}
