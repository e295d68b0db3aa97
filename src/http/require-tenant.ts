import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TenantRequiredError } from '../errors/tenant.errors.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';

const REQUIRE_TENANT = 'nestjs-mikro-tenancy:require-tenant';

/** Marks a controller or handler as tenant-only: reached without a tenant, it answers 400 saying how to send one. */
export const RequireTenant = (): MethodDecorator & ClassDecorator => SetMetadata(REQUIRE_TENANT, true);

/** Global guard behind @RequireTenant(). Routes without the decorator work with or without a tenant. */
@Injectable()
export class RequireTenantGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const required = this.reflector.getAllAndOverride<boolean | undefined>(REQUIRE_TENANT, [context.getHandler(), context.getClass()]);
    if (!required || this.runtime.context.currentTenant()) return true;
    throw new TenantRequiredError(this.runtime.tenants?.chain.howToSend ?? 'configure { tenancy } in MikroTenancyModule.forRoot');
  }
}
