import type { CurrentTenantSource } from './tenant-aware.logger.js';

/**
 * A pino `mixin` (nestjs-pino: `pinoHttp: { mixin }`) that adds the current tenant's id to every line written inside a
 * tenant's unit of work, whoever writes it: the request's own lines, `PinoLogger`, Nest's `Logger` through
 * nestjs-pino's `Logger`, the SQL tenant ORMs log, jobs and CLI runs (`TenancyService.run`). Lines outside any tenant
 * get nothing. The id is the validated id of the tenant in use, never raw request input.
 */
export function tenantLogMixin(tenants: CurrentTenantSource, key = 'tenant'): () => Record<string, string> {
  return () => {
    const tenant = tenants.currentOrUndefined();
    // a fresh object each time: pino writes into what the mixin returns
    return tenant === undefined ? {} : { [key]: tenant.id };
  };
}
