// Shared by the integrations: it imports none of their optional peer dependencies, so each stays importable alone.
import { HttpStatus } from '@nestjs/common';
import { DatabaseUnavailableError, databaseUnavailableReason } from '../errors/database-unavailable.error.js';
import type { TenantRequest } from '../resolution/tenant-resolver.js';
import type { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { RequestScope } from '../scope/request-scope.js';

/** One unit of work entered outside the HTTP middleware: its scope, and how to give its tenant back. */
export interface EnteredUnit {
  readonly scope: RequestScope;
  /** Idempotent; a no-op without a tenant. */
  readonly release: () => void;
}

const nothingToRelease = (): void => undefined;

/**
 * What the HTTP middleware does, for a transport that is not a plain HTTP request (a GraphQL operation, a WebSocket
 * message): the same resolver chain, the same validation and lookup (400, 404, 403, 503), the same fresh scope.
 * Without a tenant the scope is empty, so the tenant EntityManager fails closed inside it.
 */
export async function enterTenantOf(runtime: TenancyRuntime, request: TenantRequest): Promise<EnteredUnit> {
  const tenants = runtime.tenants;
  const tenantId = tenants ? await tenants.chain.resolve(request) : undefined;
  if (tenantId === undefined || !tenants) return { scope: new RequestScope(runtime), release: nothingToRelease };
  let tenant = tenants.enterCached(tenantId);
  if (!tenant) {
    // the lookup may query the hub database: an outage there is a retryable 503, not a driver message
    tenant = await tenants.enter(tenantId).catch((error: unknown) => {
      const reason = databaseUnavailableReason(error);
      throw reason === undefined ? error : new DatabaseUnavailableError(reason, undefined, error);
    });
  }
  return { scope: new RequestScope(runtime, tenant), release: tenant.release };
}

/** The status of an error this library lets clients see (TenancyError is an HttpException), or undefined. */
export function clientStatusOf(error: unknown): { status: number; message: string } | undefined {
  if (!(error instanceof Error) || !('getStatus' in error) || !('getResponse' in error)) return undefined;
  const status = (error as { getStatus(): unknown }).getStatus();
  const response = (error as { getResponse(): unknown }).getResponse();
  if (typeof status !== 'number') return undefined;
  // the response body, not error.message: a TenancyError that is not client-visible keeps its details for the logs
  const message = typeof response === 'object' && response !== null && 'message' in response ? String(response.message) : String(response);
  return { status, message: status >= HttpStatus.INTERNAL_SERVER_ERROR && status !== HttpStatus.SERVICE_UNAVAILABLE ? 'Internal server error' : message };
}
