import { common } from './common.js';
import { AnalyticsEvent, Project, Task, User } from './entities.js';
import { Tenant } from './tenancy.entities.js';

import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { InjectEntityManager, Outbox } from 'nestjs-mikro-tenancy';

export interface ProjectCreated {
  projectId: number;
  name: string;
}

@Injectable()
export class ProjectsService {
  constructor(
    @InjectEntityManager('tenant') private readonly em: EntityManager,
    private readonly outbox: Outbox,
  ) {}

  create(name: string) {
    return this.em.transactional(async (em) => {
      const project = em.create(Project, { name });
      await em.flush(); // the id goes into the message
      this.outbox.add<ProjectCreated>(em, { to: 'analytics', topic: 'project.created', payload: { projectId: project.id, name } });
      return project; // the project and its message commit together, or neither does
    });
  }
}

import { type OutboxDelivery, OutboxHandler } from 'nestjs-mikro-tenancy';

@Injectable()
export class AnalyticsProjector {
  @OutboxHandler('project.created')
  onProjectCreated(delivery: OutboxDelivery<ProjectCreated>, em: EntityManager) {
    // em: the analytics context, in the transaction that also stores the message's receipt
    em.create(AnalyticsEvent, { name: delivery.topic, subject: `${delivery.source.tenantId}/${delivery.payload.projectId}` });
  }
}

import { defineConfig } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { MikroTenancyModule, OutboxMessage, OutboxModule, OutboxReceipt, TenantStores } from 'nestjs-mikro-tenancy';

@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: {
        default: defineConfig({ ...common, clientUrl: process.env.DATABASE_URL, entities: [Tenant, User] }),
        // receives: its handlers' writes and the receipts commit together
        analytics: defineConfig({ ...common, clientUrl: process.env.ANALYTICS_URL, entities: [AnalyticsEvent, OutboxReceipt] }),
      },
      tenancy: {
        isolation: 'schema',
        // sends: every tenant's schema gets an outbox table
        config: defineConfig({ ...common, clientUrl: process.env.DATABASE_URL, entities: [Project, Task, OutboxMessage] }),
        store: TenantStores.table(Tenant),
      },
    }),
    OutboxModule.forRoot({ relay: { intervalMs: 1_000, sweepIntervalMs: 30_000 }, maxAttempts: 10 }),
  ],
  providers: [ProjectsService, AnalyticsProjector],
})
export class AppModule {}

import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { TenancyHealthIndicator } from 'nestjs-mikro-tenancy/health';

@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthCheckService, private readonly tenancy: TenancyHealthIndicator) {}

  @Get('outbox')
  @HealthCheck()
  outbox() {
    // without limits the outbox is always up, its numbers shown; here: down on any dead message or a 5-minute backlog
    return this.health.check([() => this.tenancy.outbox({ maxDead: 0, maxPendingAgeMs: 300_000 })]);
  }
}

import { TenancyService, compensate } from 'nestjs-mikro-tenancy';

@Injectable()
export class SignupService {
  constructor(
    private readonly hub: EntityManager, // 'default'
    private readonly tenancy: TenancyService,
  ) {}

  async signUp(tenantId: string, email: string): Promise<User> {
    const [user] = await compensate([
      {
        name: 'create the user in the hub',
        run: async () => {
          const user = this.hub.create(User, { email });
          await this.hub.flush();
          return user;
        },
        undo: (user) => this.hub.nativeDelete(User, { id: user.id }),
      },
      {
        name: 'create the welcome project in the tenant',
        run: () => this.tenancy.run(tenantId, ({ em }) => em.insert(Project, { name: `Welcome, ${email}` })),
      },
    ]);
    return user;
  }
}
