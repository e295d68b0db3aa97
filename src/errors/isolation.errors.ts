import { HttpStatus } from '@nestjs/common';
import { TenancyError } from './tenancy.error.js';

/**
 * Two tenants derive the same schema or database, or a tenant's schema or database is marked as another
 * tenant's. Never served: 409 when creating or dropping a tenant; when serving a request, a 500 whose message does
 * not name the other tenant (the full story goes to the log, once).
 */
export class TenantStorageConflictError extends TenancyError {
  constructor(
    readonly tenantId: string,
    readonly where: string,
    readonly otherTenantId: string | undefined,
    phase: 'create' | 'drop' | 'migrate' | 'open',
  ) {
    super(...conflictMessage(tenantId, where, otherTenantId, phase));
  }
}

function conflictMessage(tenantId: string, where: string, otherTenantId: string | undefined, phase: 'create' | 'drop' | 'migrate' | 'open'): [string, HttpStatus, string] {
  const fix = `Two tenants must never share a schema or database: make tenancy.schemaName / tenancy.database derive a distinct name for each tenant.`;
  if (phase === 'open') {
    return [`Tenant '${tenantId}' cannot be served: its ${where} belongs to another tenant. ${fix}`, HttpStatus.INTERNAL_SERVER_ERROR, 'Internal Server Error'];
  }
  const whose = otherTenantId === undefined ? 'another tenant' : `tenant '${otherTenantId}'`;
  return [`Cannot ${phase} tenant '${tenantId}': its ${where} belongs to ${whose}. Nothing was changed. ${fix}`, HttpStatus.CONFLICT, 'Conflict'];
}

/** The tenant is registered but its schema or database was never created: a set-up step, not an outage. */
export class TenantStorageMissingError extends TenancyError {
  constructor(readonly tenantId: string, kind: 'schema' | 'database') {
    super(
      `Tenant '${tenantId}' is registered but its ${kind} does not exist yet. Create it with ` +
        `\`mikro-tenancy tenant create ${tenantId}\` (or TenantLifecycle.create('${tenantId}')), or apply the tenant ` +
        `migrations with \`mikro-tenancy migrate up --tenant ${tenantId}\`.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/**
 * The connection options derived for a tenant could land somewhere other than the tenant's own database (the
 * template's database, a static context's, or a database that differs from the derived one). Nothing is served.
 */
export class TenantConnectionMismatchError extends TenancyError {
  constructor(readonly tenantId: string, readonly problem: string) {
    super(`Tenant '${tenantId}' cannot be served: ${problem}`, HttpStatus.INTERNAL_SERVER_ERROR, 'Internal Server Error');
  }
}

/**
 * Schema mode: tenant connections must run with a search_path under which no tenant table resolves, so a query
 * the ORM forgot to qualify fails instead of reading `public`. Something (a pooler, a role setting) changed it.
 */
export class TenantSearchPathError extends TenancyError {
  constructor(contextName: string, actual: string, expected: string) {
    super(
      `Tenant context '${contextName}': its connections run with search_path '${actual}' instead of '${expected}', so an ` +
        `unqualified table name could resolve to another schema. Tenant requests are refused until this is fixed. Behind ` +
        `PgBouncer (which drops the startup option that sets it), set it on the tenant context's own role: ALTER ROLE <tenant role> SET ` +
        `search_path = '${expected}' (list extension schemas in tenancy.searchPath).`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/**
 * Schema mode: a table of the tenant's own schema is missing, so the request could not complete. The schema was
 * dropped (a drop by another app instance that this one has not heard of yet) or the tenant's migrations are not
 * applied: the tenant's state, not an outage of the server, and never a 500.
 */
export class TenantSchemaIncompleteError extends TenancyError {
  constructor(readonly tenantId: string, cause: unknown) {
    super(
      `Tenant '${tenantId}' cannot be served: a table of its schema does not exist. Either the tenant is being dropped, ` +
        `or its migrations are not applied: run \`mikro-tenancy migrate up --tenant ${tenantId}\`.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
      { cause },
    );
  }
}
