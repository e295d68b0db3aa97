import { HttpException, Inject, Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, type Observable, throwError } from 'rxjs';
import { DatabaseUnavailableError, databaseUnavailableReason, messageOf } from '../errors/database-unavailable.error.js';
import { getRequestTenant } from './request-tenant.js';

/** During an outage every request fails the same way: one warning per interval, with a count, not one per request. */
const REPORT_INTERVAL_MS = 5_000;

/**
 * Turns "the database cannot be reached" (server down or restarting, connection lost, pool wait timed out) into a
 * 503 DatabaseUnavailableError, so clients get a retryable 503 instead of a 500 carrying a socket or SQL message.
 * Any other error is returned unchanged. The driver's message goes to the log, throttled.
 */
@Injectable()
export class DatabaseUnavailableMapper {
  readonly #logger = new Logger('MikroTenancy');
  #lastReportAt = Number.NEGATIVE_INFINITY;
  #unreported = 0;

  map(error: unknown, tenantId: string | undefined): unknown {
    if (error instanceof HttpException) return error;
    const reason = databaseUnavailableReason(error);
    if (reason === undefined) return error;
    this.report(`Database unavailable${tenantId === undefined ? '' : ` (tenant '${tenantId}')`}: ${messageOf(error)}`);
    return new DatabaseUnavailableError(reason, tenantId, error);
  }

  private report(message: string): void {
    const now = Date.now();
    if (now - this.#lastReportAt < REPORT_INTERVAL_MS) {
      this.#unreported++;
      return;
    }
    const more = this.#unreported ? ` (and ${this.#unreported} more request(s) since the last report)` : '';
    this.#lastReportAt = now;
    this.#unreported = 0;
    this.#logger.warn(`${message}; answered 503${more}`);
  }
}

/** Registered globally by the module: maps errors thrown by HTTP handlers (see DatabaseUnavailableMapper). */
@Injectable()
export class DatabaseUnavailableInterceptor implements NestInterceptor {
  constructor(@Inject(DatabaseUnavailableMapper) private readonly mapper: DatabaseUnavailableMapper) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    return next.handle().pipe(
      catchError((error: unknown) => {
        const tenantId = getRequestTenant(context.switchToHttp().getRequest<object>())?.id;
        return throwError(() => this.mapper.map(error, tenantId));
      }),
    );
  }
}
