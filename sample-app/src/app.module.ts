import { type DynamicModule, Module } from '@nestjs/common';
import { MikroTenancyModule, TenantStores } from '../../src/index.js';
import { sampleConfigs } from './config.js';
import { Project } from './entities/project.entity.js';
import { Tenant } from './entities/tenant.entity.js';
import { ProjectsController } from './projects/projects.controller.js';

@Module({})
export class AppModule {
  static forServer(serverUrl: string): DynamicModule {
    const configs = sampleConfigs(serverUrl);
    return {
      module: AppModule,
      imports: [
        MikroTenancyModule.forRoot({
          contexts: { default: configs.hub, analytics: configs.analytics },
          tenancy: { isolation: 'schema', config: configs.tenant, store: TenantStores.table(Tenant) },
        }),
        MikroTenancyModule.forFeature([Project], 'tenant'),
      ],
      controllers: [ProjectsController],
    };
  }
}
