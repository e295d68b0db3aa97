import type { TenantRecord } from '../tenants/tenant-store.js';

/** Where the middleware leaves the request's tenant record, for @CurrentTenant() and guards. */
const TENANT_OF_REQUEST = Symbol('nestjs-mikro-tenancy:tenant');

interface CarriesTenant {
  [TENANT_OF_REQUEST]?: TenantRecord;
  /** Fastify wraps the raw request that Nest middleware saw. */
  raw?: CarriesTenant;
}

export function setRequestTenant(request: object, tenant: TenantRecord): void {
  (request as CarriesTenant)[TENANT_OF_REQUEST] = tenant;
}

export function getRequestTenant<T extends TenantRecord = TenantRecord>(request: object): T | undefined {
  const carrier = request as CarriesTenant;
  return (carrier[TENANT_OF_REQUEST] ?? carrier.raw?.[TENANT_OF_REQUEST]) as T | undefined;
}
