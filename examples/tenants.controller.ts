import { Tenant } from './tenancy.entities.js';

import { Body, Controller, Delete, Param, Post } from '@nestjs/common';
import { TenantLifecycle } from 'nestjs-mikro-tenancy';

@Controller('tenants')
export class SignupController {
  constructor(private readonly lifecycle: TenantLifecycle<Tenant>) {}

  @Post()
  async signUp(@Body() body: { id: string; name: string }) {
    const { tenant, created, migrations } = await this.lifecycle.create(body.id, { name: body.name });
    return { id: tenant.id, created, migrations: migrations.length };
  }

  @Delete(':id')
  drop(@Param('id') id: string) {
    return this.lifecycle.drop(id, { confirm: id }); // without confirm: TenantDropNotConfirmedError (400)
  }
}
