import { HttpException, Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, finalize, type Observable, throwError } from 'rxjs';
import { TenancyRuntime } from '../module/tenancy-runtime.js';
import { DatabaseUnavailableMapper } from './database-unavailable.js';
import { getRequestTenant } from './request-tenant.js';

/** Answered (to nobody) when the client left before its handler started and the tenant was already given back. */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * Registered globally by the module, around every HTTP handler:
 * - holds the request's tenant until the handler has finished, not only until the socket closes (a client that
 *   disconnects mid-query would otherwise let the pool close the tenant's ORM under the running handler);
 * - maps "database unavailable" errors to a 503 (DatabaseUnavailableMapper).
 */
@Injectable()
export class TenancyInterceptor implements NestInterceptor {
  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(DatabaseUnavailableMapper) private readonly unavailable: DatabaseUnavailableMapper,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const tenant = this.runtime.context.currentTenant();
    const letGo = tenant?.hold();
    if (tenant && !letGo) {
      return throwError(() => new HttpException(`The client closed the request before it was handled (tenant '${tenant.id}').`, CLIENT_CLOSED_REQUEST));
    }
    return next.handle().pipe(
      catchError((error: unknown) => {
        const tenantId = getRequestTenant(context.switchToHttp().getRequest<object>())?.id;
        return throwError(() => this.unavailable.map(error, tenantId));
      }),
      finalize(() => letGo?.()),
    );
  }
}
