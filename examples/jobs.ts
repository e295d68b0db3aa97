import { User } from './entities.js';
import { NotesService } from './notes.js';

import { CreateRequestContext } from '@mikro-orm/decorators/legacy';
import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable, Logger } from '@nestjs/common';
import { TenancyService } from 'nestjs-mikro-tenancy';

@Injectable()
export class Jobs {
  private readonly logger = new Logger(Jobs.name);

  constructor(
    private readonly tenancy: TenancyService,
    private readonly em: EntityManager, // 'default'
    private readonly notes: NotesService, // uses the tenant context (see tenancy.md)
  ) {}

  nightly() {
    // fresh forks of every static context, as in a request without a tenant
    return this.tenancy.run(() => this.em.count(User));
  }

  forOneTenant() {
    // same validation and lookup as HTTP: an invalid, unknown or suspended tenant throws
    return this.tenancy.run('acme', () => this.notes.list());
  }

  forAllTenants() {
    // one run(tenant.id, ...) per tenant in the store, 4 at a time
    return this.tenancy.forEachTenant(async (tenant) => {
      this.logger.log(`${tenant.id}: ${(await this.notes.list()).length} notes`);
    }, { concurrency: 4 });
  }

  @CreateRequestContext() // MikroORM's own decorator still works for the EntityManager it forks
  countUsers() {
    return this.em.count(User);
  }
}
