import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TenantNotAllowedError, TenantRequiredError } from '../errors/tenant.errors.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';

const REQUIRE_TENANT = 'nestjs-mikro-tenancy:require-tenant';

/** Marks a controller or handler as tenant-only: reached without a tenant, it answers 400 saying how to send one. */
export const RequireTenant = (): MethodDecorator & ClassDecorator => SetMetadata(REQUIRE_TENANT, true);

/**
 * Marks a controller or handler as central (admin, billing, sign-up): it serves no tenant, so a request that names
 * one answers 400, and the tenant EntityManager fails closed inside it. To look into a tenant from such a route,
 * open it explicitly: `await using tenant = await tenancy.open(id)`.
 */
export const NoTenant = (): MethodDecorator & ClassDecorator => SetMetadata(REQUIRE_TENANT, false);

/** Global guard behind @RequireTenant() and @NoTenant(). Routes with neither work with or without a tenant. */
@Injectable()
export class RequireTenantGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const required = this.reflector.getAllAndOverride<boolean | undefined>(REQUIRE_TENANT, [context.getHandler(), context.getClass()]);
    if (required === undefined) return true;
    const tenant = this.runtime.context.currentTenant();
    if (required && !tenant) throw new TenantRequiredError(this.runtime.tenants?.chain.howToSend ?? 'configure { tenancy } in MikroTenancyModule.forRoot');
    if (!required && tenant) throw new TenantNotAllowedError(tenant.id);
    return true;
  }
}
