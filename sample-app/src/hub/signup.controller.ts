import { EntityManager } from '@mikro-orm/postgresql';
import { Body, ConflictException, Controller, HttpCode, Post } from '@nestjs/common';
import { InjectEntityManager, TenantLifecycle } from '../../../src/index.js';
import { AnalyticsService } from '../analytics/analytics.service.js';
import { Membership } from '../entities/membership.entity.js';
import { Tenant } from '../entities/tenant.entity.js';
import { User } from '../entities/user.entity.js';
import { SignupDto } from './signup.dto.js';

@Controller('signup')
export class SignupController {
  constructor(
    private readonly lifecycle: TenantLifecycle<Tenant>,
    @InjectEntityManager() private readonly hub: EntityManager,
    private readonly analytics: AnalyticsService,
  ) {}

  /** Provisions a tenant (schema or database, migrations, seed), then makes the owner its first member. */
  @Post()
  @HttpCode(201)
  async signUp(@Body() body: SignupDto) {
    if (await this.hub.findOne(Tenant, body.tenantId)) throw new ConflictException(`Tenant '${body.tenantId}' already exists; pick another id.`);
    const { tenant, created, migrations } = await this.lifecycle.create(body.tenantId, { name: body.name });
    if (!created) throw new ConflictException(`Tenant '${body.tenantId}' already exists; pick another id.`); // lost a race
    const owner = (await this.hub.findOne(User, { email: body.ownerEmail })) ?? this.hub.create(User, { email: body.ownerEmail });
    this.hub.create(Membership, { user: owner, tenant: this.hub.getReference(Tenant, tenant.id), role: 'owner' });
    await this.hub.flush();
    await this.analytics.record(tenant.id, 'tenant.signed_up');
    return { tenant: { id: tenant.id, name: tenant.name }, owner: owner.email, migrations: migrations.length };
  }
}
