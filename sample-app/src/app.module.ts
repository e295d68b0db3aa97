import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { MikroTenancyModule, TenantStores } from '../../src/index.js';
import { databaseUrl, sampleConfigs } from './config.js';
import { Project } from './entities/project.entity.js';
import { Tenant } from './entities/tenant.entity.js';
import { ProjectsController } from './projects/projects.controller.js';

/** The sample API. Configured from the environment, so the `mikro-tenancy` CLI boots it as it is. */
@Module({
  imports: [
    MikroTenancyModule.forRootAsync({
      contexts: ['default', 'analytics'],
      tenancy: {},
      driver: PostgreSqlDriver,
      useFactory: () => {
        const configs = sampleConfigs(databaseUrl());
        return {
          contexts: { default: configs.hub, analytics: configs.analytics },
          tenancy: { isolation: 'schema', config: configs.tenant, store: TenantStores.table(Tenant) },
        };
      },
    }),
    MikroTenancyModule.forFeature([Project], 'tenant'),
  ],
  controllers: [ProjectsController],
})
export class AppModule {}
