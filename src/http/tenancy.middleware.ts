import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import type { TenantRequest } from '../resolution/tenant-resolver.js';
import { DatabaseUnavailableMapper } from './database-unavailable.js';
import { RequestScope } from '../scope/request-scope.js';
import { setRequestTenant } from '../scope/request-tenant.js';
import type { ActiveTenant } from '../scope/active-tenant.js';

/**
 * One middleware for every context, on express and fastify: enters a fresh request scope (static forks are made on
 * first use) and, when the request names a tenant, validates, looks up and opens it first (400/404/403/503 otherwise).
 */
@Injectable()
export class TenancyMiddleware implements NestMiddleware {
  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(DatabaseUnavailableMapper) private readonly unavailable: DatabaseUnavailableMapper,
  ) {}

  /**
   * Synchronous for a tenant whose lookup is cached and that opens at once (the common case): no promise, no extra
   * turn of the event loop. Anything else (first request, unknown, suspended, being dropped, database mode opening
   * an ORM, an asynchronous resolver) takes `enterAsync`.
   */
  use(request: TenantRequest & object, response: ServerResponse, next: (error?: unknown) => void): void | Promise<void> {
    const tenants = this.runtime.tenants;
    const tenantId = tenants?.chain.resolve(request);
    if (tenantId instanceof Promise) return tenantId.then((id) => this.enterAsync(id, request, response, next));
    if (tenantId === undefined || !tenants) {
      this.runtime.context.run(new RequestScope(this.runtime), next);
      return;
    }
    const tenant = tenants.enterCached(tenantId);
    if (!tenant) return this.enterAsync(tenantId, request, response, next);
    this.serve(tenant, request, response, next);
  }

  private async enterAsync(tenantId: string | undefined, request: TenantRequest & object, response: ServerResponse, next: (error?: unknown) => void): Promise<void> {
    const tenants = this.runtime.tenants;
    if (tenantId === undefined || !tenants) {
      this.runtime.context.run(new RequestScope(this.runtime), next);
      return;
    }
    // the lookup may query the hub database (TenantStores.table): an outage there is a 503 too
    const tenant = await tenants.enter(tenantId).catch((error: unknown) => {
      throw this.unavailable.map(error, tenantId);
    });
    this.serve(tenant, request, response, next);
  }

  /**
   * The request holds its tenant until its handler has answered, also when the client leaves first: otherwise
   * another tenant's request could make the pool close this tenant's ORM (database mode) or a drop stop waiting for
   * it (every mode) while the handler still queries. 'close' fires after the answer is sent and also when the client
   * goes away first. Done here rather than in a Nest interceptor: any global interceptor makes Nest run its RxJS
   * pipeline on every request (0.76-0.84x of plain @mikro-orm/nestjs in database mode with one, 1.00-1.02x without).
   * A handler that never answers (an `@Res()` handler that never ends its response) keeps its tenant.
   */
  private serve(tenant: ActiveTenant, request: TenantRequest & object, response: ServerResponse, next: (error?: unknown) => void): void {
    // if the client went away while the tenant was being opened, 'close' has already fired: give the tenant back now
    // (a leaked lease would pin a pool slot forever) and skip the handler, whose answer nobody would read
    if (response.closed) {
      tenant.release();
      return;
    }
    response.on('close', () => {
      if (response.writableEnded) tenant.release();
      else releaseWhenAnswered(response, tenant.release); // the client left before the handler answered
    });
    setRequestTenant(request, tenant.record);
    this.runtime.context.run(new RequestScope(this.runtime, tenant), next);
  }
}

/** Calls `release` once the handler answers (ends the response), for a response whose client has already left. */
function releaseWhenAnswered(response: ServerResponse, release: () => void): void {
  const end = response.end;
  response.end = function (this: ServerResponse, ...args: unknown[]) {
    try {
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    } finally {
      release();
    }
  } as ServerResponse['end'];
}
