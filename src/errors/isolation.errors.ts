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
 * Schema mode: a statement would change the search_path of a pooled tenant connection for the rest of its life
 * (`SET search_path`, `set_config('search_path', ..., false)`), so the next unit of work on it, another tenant's,
 * would resolve unqualified names in this schema. Refused before it reaches PostgreSQL.
 */
export class TenantSessionSearchPathError extends TenancyError {
  constructor(contextName: string) {
    super(
      `Tenant context '${contextName}': a statement tried to change the search_path of a pooled connection for the whole ` +
        `session (SET search_path or set_config('search_path', ..., false)); the connection's next user, possibly another ` +
        `tenant, would resolve unqualified table names in that schema. Refused. Qualify the tables, or use SET LOCAL ` +
        `search_path (or set_config(..., true)) inside a transaction, which ends with it.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/** A statement tried to create a temporary table that would outlive its transaction on a pooled tenant connection. */
export class TenantSessionTempTableError extends TenancyError {
  constructor(contextName: string) {
    super(
      `Tenant context '${contextName}': a statement tried to create a temporary table that outlives its transaction on a ` +
        `pooled connection; the connection's next user, possibly another tenant, would find it before any table of the ` +
        `same name in unqualified SQL. Refused. Create it inside a transaction with ON COMMIT DROP.`,
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

/**
 * Table mode: a flush would write a row with another tenant's value in the tenant column, or change the tenant of
 * a row. Refused before anything is written (the row-level security policies would refuse it too).
 */
export class TenantColumnMismatchError extends TenancyError {
  constructor(readonly tenantId: string | undefined, entity: string, kind: 'create' | 'move') {
    const where = tenantId === undefined ? 'outside any tenant' : `in tenant '${tenantId}'`;
    const what =
      kind === 'create'
        ? `would create a ${entity} ${where} with another tenant column value`
        : `would move a ${entity} ${where} to another tenant (its tenant column changed)`;
    super(
      `Refused: a flush ${what}; nothing was written. Rows are written in the tenant of the unit of work: leave the ` +
        `tenant column unset (it is filled in), and use TenancyService.run(otherTenant, ...) to write in another tenant.`,
      HttpStatus.FORBIDDEN,
      'Forbidden',
    );
  }
}

/**
 * Table mode: the app's database role bypasses row-level security (a superuser, or BYPASSRLS), so the policies
 * would not bind it. Thrown at boot unless `sharedTables.bypassingRole` is 'warn'.
 */
export class TenantRoleBypassesRlsError extends TenancyError {
  constructor(contextName: string, role: string, why: string) {
    super(
      `Tenant context '${contextName}' connects as role "${role}", which ${why}, so PostgreSQL's row-level security ` +
        `would not bind it and only the ORM's filters would keep tenants apart. Connect as a role without SUPERUSER ` +
        `or BYPASSRLS (see docs/isolation.md, "Shared tables"), or set sharedTables.bypassingRole: 'warn'.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/**
 * Table mode: `em.getKysely()` outside a transaction. Kysely runs its queries on pooled connections directly, without
 * the transaction that carries the tenant setting, so PostgreSQL's policies would show it no rows and refuse its
 * writes. Refused with the fix instead of silently returning nothing.
 */
export class TenantKyselyNeedsTransactionError extends TenancyError {
  constructor(tenantId: string | undefined) {
    super(
      `em.getKysely() was called outside a transaction${tenantId === undefined ? '' : ` in tenant '${tenantId}'`} with shared-table ` +
        `isolation: Kysely queries would run without the tenant setting that row-level security reads. Call it inside ` +
        `em.transactional(async (em) => em.getKysely()...), which carries the tenant, or use em.find / the QueryBuilder.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/**
 * Table mode: PostgreSQL's row-level security refused a write (a row of another tenant, or a reference to one, e.g.
 * another tenant's id passed to em.getReference). Answered 403; the SQL error goes to the log only.
 */
export class TenantRowRefusedError extends TenancyError {
  constructor(tenantId: string | undefined, cause: unknown) {
    const where = tenantId === undefined ? 'outside any tenant' : `in tenant '${tenantId}'`;
    super(
      `A write ${where} was refused by PostgreSQL's row-level security: it would have written a row of another ` +
        `tenant, or one that references a row the tenant cannot see. Nothing was written.`,
      HttpStatus.FORBIDDEN,
      'Forbidden',
    );
    this.cause = cause;
  }
}

/** Table mode: creating a tenant whose id was dropped while rows of that dropped tenant remain (a drop cut short). */
export class TenantDropUnfinishedError extends TenancyError {
  constructor(tenantId: string) {
    super(
      `Cannot create tenant '${tenantId}': a tenant of that id was dropped, and rows of it remain in the shared tables ` +
        `(its drop stopped half-way). Nothing was changed. Finish the drop first: \`mikro-tenancy tenant drop ${tenantId}\` ` +
        `(or TenantLifecycle.drop('${tenantId}', { confirm: '${tenantId}' })), then create it again.`,
      HttpStatus.CONFLICT,
      'Conflict',
    );
  }
}
