import { HttpException, Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { finalize, type Observable, throwError } from 'rxjs';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';

/** Answered (to nobody) when the client left before its handler started and the tenant was already given back. */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * Database mode: holds the request's tenant until its handler has finished, not only until the socket closes. A
 * client that disconnects mid-query would otherwise let the pool evict and close the tenant's ORM under the
 * running handler. Registered globally only when database isolation is possible: any global interceptor makes
 * Nest run its RxJS pipeline on every request, which costs measurable CPU (see README, Performance).
 */
@Injectable()
export class TenantLeaseInterceptor implements NestInterceptor {
  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const tenant = context.getType() === 'http' ? this.runtime.context.currentTenant() : undefined;
    if (!tenant) return next.handle();
    const letGo = tenant.hold();
    if (!letGo) {
      return throwError(() => new HttpException(`The client closed the request before it was handled (tenant '${tenant.id}').`, CLIENT_CLOSED_REQUEST));
    }
    return next.handle().pipe(finalize(letGo));
  }
}
