import { type CallHandler, type ExecutionContext, Injectable, Logger, type NestInterceptor } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { type Observable, catchError, defer, from, lastValueFrom, mergeMap, throwError, toArray } from 'rxjs';
import { TenancyError } from '../../errors/tenancy.error.js';
import { TenancyService } from '../../runtime/tenancy.service.js';
import { TenantMessageRequiredError, showPattern, tenantOfMessage } from './tenant-message.js';

/**
 * Runs a message handler inside the tenant its message carries (TenantClientProxy's `{ __tenant, data }`), as a
 * request would: validated, looked up, fail closed. The handler's `@Payload()` is your `data`, unwrapped. A message
 * without a tenant never reaches the handler. Tenancy errors, the tenant's own (invalid 400, unknown 404, suspended 403,
 * unavailable 503) and those of the handler, become an RpcException whose error is the HTTP body
 * `{ statusCode, error, message }`, so the caller gets the status and message instead of "Internal server error".
 * Guards run before interceptors: they see the envelope, not the tenant.
 */
@Injectable()
export class TenantRpcInterceptor implements NestInterceptor {
  readonly #logger = new Logger('TenantRpcInterceptor');

  constructor(private readonly tenancy: TenancyService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const args = context.getArgs();
    const tenantId = tenantOfMessage(args[0]);
    if (tenantId === undefined) {
      const error = new TenantMessageRequiredError(showPattern(context.switchToRpc().getContext()?.getPattern?.() ?? context.getHandler().name));
      this.#logger.warn(error.message);
      return throwError(() => toRpcException(error));
    }
    args[0] = (args[0] as { data: unknown }).data; // pipes and @Payload() read the arguments after the interceptors
    // the handler is called inside run(): next.handle() binds the async context it is created in
    return defer(() => this.tenancy.run(tenantId, () => lastValueFrom(next.handle().pipe(toArray()), { defaultValue: [] }))).pipe(
      mergeMap((values) => from(values)),
      catchError((error: unknown) => throwError(() => (error instanceof TenancyError ? toRpcException(error) : error))),
    );
  }
}

/** The same body an HTTP client gets (a generic message for errors not meant for clients). */
const toRpcException = (error: TenancyError): RpcException => new RpcException(error.getResponse() as object);
