import { AnalyticsEvent, User } from './entities.js';
import { Note, Tenant } from './tenancy.entities.js';

import { EntityManager } from '@mikro-orm/postgresql';
import { Controller, Get, Injectable } from '@nestjs/common';
import { InjectEntityManager, loadRelated } from 'nestjs-mikro-tenancy';

@Injectable()
export class UserActivity {
  constructor(
    private readonly hub: EntityManager, // 'default'
    @InjectEntityManager('analytics') private readonly analytics: EntityManager,
  ) {}

  async withEvents() {
    const users = await this.hub.find(User, {}, { orderBy: { id: 'asc' } });
    // one query on the analytics database for the whole list (per 1000 keys), grouped by key
    const events = await loadRelated(this.analytics, AnalyticsEvent, 'subject', users.map((u) => u.email));
    return users.map((user) => ({ email: user.email, events: events.get(user.email) ?? [] }));
  }
}

import { NoTenant, TenancyService } from 'nestjs-mikro-tenancy';

@Controller('admin')
@NoTenant() // central: a request naming a tenant gets 400; the tenant EntityManager fails closed in here
export class AdminController {
  constructor(
    private readonly tenancy: TenancyService<Tenant>,
    private readonly hub: EntityManager,
  ) {}

  @Get('report')
  async report() {
    const rows = [];
    for (const { id } of await this.hub.find(Tenant, { suspended: false }, { orderBy: { id: 'asc' } })) {
      // validated and looked up like a request; released at the end of the block (database mode: its connection slot)
      await using tenant = await this.tenancy.open(id);
      rows.push({ tenant: id, notes: await tenant.em.count(Note) });
    }
    return rows;
  }
}
