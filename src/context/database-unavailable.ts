import { HttpException, Injectable, Logger } from '@nestjs/common';
import { DatabaseUnavailableError, databaseUnavailableReason } from '../errors/database-unavailable.error.js';
import { ThrottledWarnings } from '../module/throttled-warnings.js';

/**
 * Turns "the database cannot be reached" (server down or restarting, connection lost, pool wait timed out) into a
 * 503 DatabaseUnavailableError, so clients get a retryable 503 instead of a 500 carrying a socket or SQL message.
 * Any other error is returned unchanged. The driver's message goes to the log, throttled per reason.
 */
@Injectable()
export class DatabaseUnavailableMapper {
  readonly #warnings = new ThrottledWarnings(new Logger('MikroTenancy'));

  map(error: unknown, tenantId: string | undefined): unknown {
    if (error instanceof HttpException) return error;
    const reason = databaseUnavailableReason(error);
    if (reason === undefined) return error;
    const where = tenantId === undefined ? '' : ` (tenant '${tenantId}')`;
    this.#warnings.warn(reason, `Database unavailable${where}: ${messageOf(error)}; answered 503`);
    return new DatabaseUnavailableError(reason, tenantId, error);
  }
}

/** An error's message, whatever realm or type it comes from. */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}
