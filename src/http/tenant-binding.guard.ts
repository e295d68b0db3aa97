import { type CanActivate, type ExecutionContext, Inject, Injectable, type Type, mixin } from '@nestjs/common';
import { TenantMismatchError } from '../errors/tenant.errors.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';

/** Reads the tenant the request's credentials were issued for, e.g. `(request) => request.user?.tenantId`. */
// `user` is whatever your authentication put there (passport types it `any` too)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AuthenticatedTenantOf = (request: { user?: any; headers: Record<string, string | string[] | undefined> }) => string | null | undefined;

/**
 * A guard that binds credentials to their tenant: a session or JWT issued in one tenant must not work in another,
 * even for a user id that exists in both. Put it after your authentication guard, which sets `request.user`:
 * `@UseGuards(JwtAuthGuard, TenantBound((request) => request.user?.tenantId))`. When the request runs in a tenant,
 * the credentials must name that same tenant, else 403 (`TenantMismatchError`); credentials that name none are
 * refused too. Requests without a tenant pass (add `@RequireTenant()` where a tenant is needed). HTTP only.
 */
export function TenantBound(authenticatedTenantOf: AuthenticatedTenantOf): Type<CanActivate> {
  @Injectable()
  class TenantBoundGuard implements CanActivate {
    constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

    canActivate(context: ExecutionContext): boolean {
      if (context.getType() !== 'http') return true;
      const tenant = this.runtime.context.currentTenant();
      if (!tenant) return true;
      const claimed = authenticatedTenantOf(context.switchToHttp().getRequest());
      if (claimed === tenant.id) return true;
      throw new TenantMismatchError(tenant.id, claimed === null || claimed === undefined);
    }
  }
  return mixin(TenantBoundGuard);
}
