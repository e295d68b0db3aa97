import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { TenancyRuntime } from '../module/tenancy-runtime.js';
import type { TenantRequest } from '../resolution/tenant-resolver.js';
import { RequestScope } from './request-scope.js';
import { setRequestTenant } from './request-tenant.js';

/**
 * One middleware for every context, on express and fastify: enters a fresh request scope (static forks are made on
 * first use) and, when the request names a tenant, validates, looks up and opens it first (400/404/403/503 otherwise).
 */
@Injectable()
export class TenancyMiddleware implements NestMiddleware {
  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  async use(request: TenantRequest & object, response: ServerResponse, next: (error?: unknown) => void): Promise<void> {
    const tenants = this.runtime.tenants;
    const tenantId = tenants ? await tenants.chain.resolve(request) : undefined;
    if (tenantId === undefined || !tenants) {
      this.runtime.context.run(new RequestScope(this.runtime), next);
      return;
    }
    const tenant = await tenants.enter(tenantId);
    // 'close' fires after the response is sent and also when the client goes away first
    response.once('close', () => tenant.release());
    setRequestTenant(request, tenant.record);
    this.runtime.context.run(new RequestScope(this.runtime, tenant), next);
  }
}
