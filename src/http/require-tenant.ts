import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata, UseGuards, applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TenantNotAllowedError, TenantRequiredError } from '../errors/tenant.errors.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';

const REQUIRE_TENANT = 'nestjs-mikro-tenancy:require-tenant';

/**
 * The marks come with their guard (not a global one: any global guard makes Nest run a guard pipeline and read
 * metadata on every request of every route, about 5 µs; unmarked routes now pay nothing).
 */
const markedAs = (required: boolean): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(REQUIRE_TENANT, required), UseGuards(RequireTenantGuard)) as MethodDecorator & ClassDecorator;

/** Marks a controller or handler as tenant-only: reached without a tenant, it answers 400 saying how to send one. */
export const RequireTenant = (): MethodDecorator & ClassDecorator => markedAs(true);

/**
 * Marks a controller or handler as central (admin, billing, sign-up): it serves no tenant, so a request that names
 * one answers 400, and the tenant EntityManager fails closed inside it. To look into a tenant from such a route,
 * open it explicitly: `await using tenant = await tenancy.open(id)`.
 */
export const NoTenant = (): MethodDecorator & ClassDecorator => markedAs(false);

/**
 * The guard behind @RequireTenant() and @NoTenant(), applied by them. Routes with neither work with or without a
 * tenant. A method mark overrides its class's (both guards then run; they read the same, nearest mark).
 */
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
