import { HttpStatus } from '@nestjs/common';
import { databaseUnavailableReason } from './database-unavailable.error.js';
import { TenancyError } from './tenancy.error.js';

/** The tenant id broke a rule (pattern, length, reserved name); nothing was looked up or touched. */
export class InvalidTenantIdError extends TenancyError {
  constructor(readonly rule: string) {
    super(`Invalid tenant id: ${rule}.`, HttpStatus.BAD_REQUEST, 'Bad Request');
  }
}

export class TenantNotFoundError extends TenancyError {
  constructor(readonly tenantId: string) {
    super(`Unknown tenant '${tenantId}': no such tenant is registered in the tenant store.`, HttpStatus.NOT_FOUND, 'Not Found');
  }
}

export class TenantSuspendedError extends TenancyError {
  constructor(readonly tenantId: string) {
    super(`Tenant '${tenantId}' is suspended.`, HttpStatus.FORBIDDEN, 'Forbidden');
  }
}

/** A route marked with @RequireTenant() was reached without a tenant. */
export class TenantRequiredError extends TenancyError {
  constructor(howToSend: string) {
    super(`This route needs a tenant and none was sent: ${howToSend}.`, HttpStatus.BAD_REQUEST, 'Bad Request');
  }
}

/** A route marked with @NoTenant() (central: admin, billing...) was reached with a tenant. */
export class TenantNotAllowedError extends TenancyError {
  constructor(readonly tenantId: string) {
    super(
      `This route serves no tenant, but the request named tenant '${tenantId}'. Call it without a tenant; to work on a ` +
        `tenant from here, open it explicitly (TenancyService.open).`,
      HttpStatus.BAD_REQUEST,
      'Bad Request',
    );
  }
}

/**
 * The request's credentials were issued for another tenant than the one the request runs in (or for none). The
 * other tenant is not named: it comes from a token, and says nothing the client needs.
 */
export class TenantMismatchError extends TenancyError {
  constructor(readonly tenantId: string, unbound: boolean) {
    super(
      unbound
        ? `These credentials are not bound to a tenant, so they cannot be used for tenant '${tenantId}'.`
        : `These credentials were issued for another tenant than '${tenantId}': sign in to '${tenantId}' to use it.`,
      HttpStatus.FORBIDDEN,
      'Forbidden',
    );
  }
}

/** The tenant EntityManager or a tenant repository was used where no tenant is active. Never falls back. */
export class NoTenantContextError extends TenancyError {
  constructor(contextName: string) {
    super(
      `No tenant is active, so the '${contextName}' EntityManager cannot be used here. In HTTP, send the tenant ` +
        `(and mark the route with @RequireTenant()); in jobs, cron or scripts, wrap the call in ` +
        `TenancyService#run(tenantId, fn).`,
      HttpStatus.BAD_REQUEST,
      'Bad Request',
    );
  }
}

/**
 * The tenant's database could not be opened (unreachable, missing, bad credentials). Other tenants are unaffected.
 * The message names the kind of failure only; the driver's message (host, port, database name) is `cause`.
 */
export class TenantUnavailableError extends TenancyError {
  constructor(readonly tenantId: string, cause: unknown) {
    const reason = databaseUnavailableReason(cause) ?? 'it could not be opened';
    super(
      reason === 'the database does not exist'
        ? `The database of tenant '${tenantId}' does not exist. This is a set-up step, not an outage: create the tenant ` +
            `with \`mikro-tenancy tenant create ${tenantId}\` (or TenantLifecycle.create), which creates and migrates its database.`
        : `The database of tenant '${tenantId}' is unavailable: ${reason}. Check its connection options; other tenants are not affected.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
      { cause },
    );
  }
}

/** Every tenant database slot stayed busy for the whole acquire timeout. */
export class TenantPoolExhaustedError extends TenancyError {
  constructor(readonly tenantId: string, maxOpenTenants: number, waitedMs: number) {
    super(
      `No tenant connection slot became free within ${waitedMs} ms for tenant '${tenantId}': all ${maxOpenTenants} ` +
        `open tenant databases are in use. Retry later, or raise tenancy.pool.maxOpenTenants (mind max_connections).`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/**
 * The tenant is being dropped: its new requests are refused while the drop lets the ones already running finish.
 * Once dropped it is unknown (404); if the drop is given up, it is served again. Work the drop had to end (still
 * running after the drain time) gets this error too, saying it was dropped.
 */
export class TenantDroppingError extends TenancyError {
  constructor(readonly tenantId: string, state: 'dropping' | 'dropped' = 'dropping') {
    super(
      state === 'dropping'
        ? `Tenant '${tenantId}' is being dropped: its requests are refused until the drop ends (then the tenant is unknown).`
        : `Tenant '${tenantId}' was dropped while this request ran, so it was not completed.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/**
 * The tenant is in the final step of a move to another server (writes paused while the copy catches up, usually
 * well under a second), and that step outlasted how long a request waits for it. Retry: nothing was done.
 */
export class TenantMovingError extends TenancyError {
  constructor(readonly tenantId: string, state: 'moving' | 'moved' = 'moving') {
    super(
      state === 'moving'
        ? `Tenant '${tenantId}' is being moved to another server and its requests are paused for the last step; nothing was done. Retry in a moment.`
        : `Tenant '${tenantId}' was moved to another server or tier while this request ran, so it was not completed. Retry: it is served from its new place.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}
