import { EntityManager } from '@mikro-orm/postgresql';
import { Controller, Get } from '@nestjs/common';
import { CurrentTenant, InjectEntityManager, RequireTenant, type TenantRecord } from '../../../src/index.js';
import { Membership } from '../entities/membership.entity.js';

@Controller('members')
export class MembersController {
  constructor(@InjectEntityManager() private readonly hub: EntityManager) {}

  /** The current tenant's members, from the hub database. */
  @RequireTenant()
  @Get()
  async list(@CurrentTenant() tenant: TenantRecord) {
    const memberships = await this.hub.find(Membership, { tenant: tenant.id }, { populate: ['user'], orderBy: { id: 'asc' } });
    return memberships.map((m) => ({ email: m.user.email, role: m.role }));
  }
}
