import { type ArgumentsHost, Catch, HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { DatabaseConnectionFailure, DatabaseUnavailableError, databaseUnavailableReason } from '../errors/database-unavailable.error.js';
import { ThrottledWarnings } from '../isolation/throttled-warnings.js';
import { getRequestTenant } from '../scope/request-tenant.js';
import { messageOf } from '../errors/message-of.js';
import { TenantSchemaTableMissingException } from '../isolation/schema/tenant-schema-driver.js';
import { TenantDatabaseTableMissingException } from '../isolation/database/tenant-database-driver.js';
import { TenantWriteFencedException } from '../isolation/schema/fenced-write.js';
import { TenantMovingError } from '../errors/tenant.errors.js';
import { TenantRowRefusedError, TenantSchemaIncompleteError } from '../errors/isolation.errors.js';
import { RowLevelSecurityViolationException } from '@mikro-orm/core';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';

/**
 * Turns "the database cannot be reached" (server down or restarting, connection lost, pool wait timed out) into a
 * 503 DatabaseUnavailableError, so clients get a retryable 503 instead of a 500 carrying a socket or SQL message;
 * a table missing from the tenant's own schema (being dropped or moved, or not migrated) into a 503 naming the tenant; and a
 * write refused by row-level security (shared tables) into a 403.
 * Any other error is returned unchanged. The driver's message goes to the log, throttled per reason.
 */
@Injectable()
export class DatabaseUnavailableMapper {
  readonly #warnings = new ThrottledWarnings(new Logger('MikroTenancy'));

  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  map(error: unknown, tenantId: string | undefined): unknown {
    if (error instanceof HttpException) return error;
    if (error instanceof TenantSchemaTableMissingException) return this.tenantStateError(error);
    // database mode: a write that waited on a move's lock found the source's schema renamed away (else as before)
    if (error instanceof TenantDatabaseTableMissingException) return this.runtime.tenants?.fences.moveError(error.tenantId) ?? error;
    // mixed tiers: a write that reached the tables while the tenant's rows move between tiers (nothing was written)
    if (error instanceof TenantWriteFencedException) return new TenantMovingError(error.tenantId ?? tenantId ?? 'unknown');
    if (error instanceof RowLevelSecurityViolationException) {
      // a unit of work of a tenant dropped meanwhile: its writes fail the policies from the drop on (503, says why)
      const dropped = tenantId === undefined ? undefined : this.runtime.tenants?.fences.dropError(tenantId);
      if (dropped) return dropped;
      this.#warnings.warn(`rls:${tenantId}`, `Row-level security refused a write (tenant '${tenantId ?? 'none'}'): ${messageOf(error)}; answered 403`);
      return new TenantRowRefusedError(tenantId, error);
    }
    const reason = databaseUnavailableReason(error);
    if (reason === undefined) return error;
    // a drop that ended this request's session once its drain time was over
    const dropped = tenantId === undefined ? undefined : this.runtime.tenants?.fences.dropError(tenantId);
    if (dropped) return dropped;
    const where = tenantId === undefined ? '' : ` (tenant '${tenantId}')`;
    const driverError = error instanceof DatabaseConnectionFailure ? error.cause : error;
    this.#warnings.warn(reason, `Database unavailable${where}: ${messageOf(driverError)}; answered 503`);
    return new DatabaseUnavailableError(reason, tenantId, error, error instanceof DatabaseConnectionFailure ? error.where : {});
  }

  private tenantStateError(error: TenantSchemaTableMissingException): HttpException {
    const { tenantId } = error;
    const dropped = this.runtime.tenants?.fences.dropError(tenantId) ?? this.runtime.tenants?.fences.moveError(tenantId);
    if (dropped) return dropped;
    this.#warnings.warn(`incomplete:${tenantId}`, `${error.message} Answered 503.`);
    return new TenantSchemaIncompleteError(tenantId, error);
  }
}

/**
 * Registered globally by the module. It catches only DatabaseConnectionFailure (what the module's pools throw for
 * an unavailable database), TenantSchemaTableMissingException, TenantDatabaseTableMissingException (database mode:
 * answered as before unless a move explains it), RowLevelSecurityViolationException and TenantWriteFencedException
 * (a write held by a move between tiers: 503), so your own filters keep every other error, and
 * successful requests pay nothing.
 */
@Catch(DatabaseConnectionFailure, TenantSchemaTableMissingException, TenantDatabaseTableMissingException, RowLevelSecurityViolationException, TenantWriteFencedException)
export class DatabaseUnavailableFilter extends BaseExceptionFilter {
  constructor(@Inject(DatabaseUnavailableMapper) private readonly mapper: DatabaseUnavailableMapper) {
    super();
  }

  override catch(
    exception: DatabaseConnectionFailure | TenantSchemaTableMissingException | TenantDatabaseTableMissingException | RowLevelSecurityViolationException | TenantWriteFencedException,
    host: ArgumentsHost,
  ): void {
    if (host.getType() !== 'http') throw exception; // RPC and WebSocket contexts keep their own handling
    const tenantId = getRequestTenant(host.switchToHttp().getRequest<object>())?.id;
    super.catch(this.mapper.map(exception, tenantId), host);
  }
}
