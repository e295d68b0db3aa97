import { User } from './entities.js';
import { NotesController, NotesService } from './notes.js';
import { Note, Tenant } from './tenancy.entities.js';

import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { MikroTenancyModule, TenantResolvers, TenantStores } from 'nestjs-mikro-tenancy';

const common = { metadataProvider: ReflectMetadataProvider } as const;

@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: { default: defineConfig({ ...common, dbName: 'hub', entities: [User, Tenant] }) },
      tenancy: {
        isolation: 'schema',
        config: defineConfig({ ...common, dbName: 'app', entities: [Note] }), // template for every tenant
        store: TenantStores.table(Tenant),                                     // rows of Tenant in 'default'
        resolve: [TenantResolvers.header('x-tenant-id'), TenantResolvers.subdomain({ baseDomain: 'example.com' })],
        schemaName: (tenant) => `tenant_${tenant.id}`,                         // this is the default
      },
    }),
    MikroTenancyModule.forFeature([Note], 'tenant'),
  ],
  controllers: [NotesController],
  providers: [NotesService],
})
export class AppModule {}
