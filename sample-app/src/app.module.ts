import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MikroTenancyModule, TenantResolvers, TenantStores } from '../../src/index.js';
import { TenancyHealthIndicator } from '../../src/health/index.js';
import { AnalyticsController } from './analytics/analytics.controller.js';
import { AnalyticsService } from './analytics/analytics.service.js';
import { databaseUrl, ownerOf, sampleConfigs, tenantIsolation } from './config.js';
import { Event } from './entities/event.entity.js';
import { Membership } from './entities/membership.entity.js';
import { Project } from './entities/project.entity.js';
import { Task } from './entities/task.entity.js';
import { Tenant } from './entities/tenant.entity.js';
import { User } from './entities/user.entity.js';
import { HealthController } from './health/health.controller.js';
import { MembersController } from './hub/members.controller.js';
import { SignupController } from './hub/signup.controller.js';
import { ProjectsController } from './tenant-data/projects.controller.js';
import { TasksController } from './tenant-data/tasks.controller.js';

/** The sample API. Configured from the environment, so the `mikro-tenancy` CLI boots it as it is. */
@Module({
  imports: [
    MikroTenancyModule.forRootAsync({
      contexts: ['default', 'analytics'],
      tenancy: {},
      driver: PostgreSqlDriver,
      useFactory: () => {
        const isolation = tenantIsolation();
        const configs = sampleConfigs(databaseUrl(), isolation);
        return {
          contexts: { default: configs.hub, analytics: configs.analytics },
          tenancy: {
            isolation,
            config: configs.tenant,
            // shared tables: the app serves as a role bound by row-level security; migrations run as the owner
            ...(isolation === 'table' ? { migrateAs: ownerOf(databaseUrl()) } : {}),
            store: TenantStores.table(Tenant),
            // `x-tenant-id: acme`, or a subdomain: acme.localhost:3000
            resolve: [TenantResolvers.header('x-tenant-id'), TenantResolvers.subdomain({ baseDomain: process.env.SAMPLE_BASE_DOMAIN ?? 'localhost' })],
            database: (tenant) => ({ dbName: `sample_tenant_${tenant.id}` }),
            seed: (em) => void em.create(Project, { name: 'Getting started' }),
          },
        };
      },
    }),
    MikroTenancyModule.forFeature([User, Membership]),
    MikroTenancyModule.forFeature([Event], 'analytics'),
    MikroTenancyModule.forFeature([Project, Task], 'tenant'),
    TerminusModule,
  ],
  controllers: [SignupController, MembersController, ProjectsController, TasksController, AnalyticsController, HealthController],
  providers: [AnalyticsService, TenancyHealthIndicator],
})
export class AppModule {}
