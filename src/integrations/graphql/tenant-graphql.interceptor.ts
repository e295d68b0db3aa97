import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import { catchError, finalize, from, mergeMap, Observable, throwError } from 'rxjs';
import type { TenantRequest } from '../../resolution/tenant-resolver.js';
import { TenancyRuntime } from '../../runtime/tenancy-runtime.js';
import { type EnteredUnit, enterTenantOf } from '../enter-tenant.js';
import { toGraphqlError } from './graphql-errors.js';

/** What Apollo (`{ req, res }`) and mercurius (`{ req, reply }` from @nestjs/mercurius) put in the GraphQL context. */
interface HttpGraphqlContext {
  req?: TenantRequest & { raw?: TenantRequest };
  res?: ClosingResponse;
  reply?: { raw?: ClosingResponse; request?: TenantRequest };
}

interface ClosingResponse {
  readonly closed?: boolean;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Runs every resolver inside its operation's tenant, resolved from the operation's HTTP request by the module's
 * resolver chain (header, subdomain, path, query, custom), exactly as the HTTP middleware would: one entry and one
 * fresh scope per operation, shared by all its resolvers, given back when the response closes. It does not rely on
 * the middleware's AsyncLocalStorage reaching resolvers: each resolver runs inside `context.run` itself. Refusals
 * (invalid, unknown, suspended, unavailable tenant) and the fail-closed error of a resolver without a tenant come out
 * as GraphQL errors with `extensions.code` and `extensions.status`, not as HTTP 500s.
 */
@Injectable()
export class TenantGraphqlInterceptor implements NestInterceptor {
  /** Keyed by the operation's GraphQL context object: one per operation on both drivers. */
  readonly #operations = new WeakMap<object, Promise<EnteredUnit>>();

  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType<GqlContextType>() !== 'graphql') return next.handle();
    const graphqlContext = GqlExecutionContext.create(context).getContext<HttpGraphqlContext>();
    const request = graphqlContext.req?.raw ?? graphqlContext.req ?? graphqlContext.reply?.request;
    const response = graphqlContext.res ?? graphqlContext.reply?.raw;
    if (!request) return throwError(() => new Error('TenantGraphqlInterceptor: the GraphQL context has no `req`; keep the driver\'s default context or return `{ req }` from your context factory.'));
    // without a response to tie the release to (e.g. subscriptions), each resolver call is its own unit of work
    const unit = response ? this.operationUnit(graphqlContext, request, response) : undefined;
    const entered = unit ?? enterTenantOf(this.runtime, request);
    return from(entered).pipe(
      mergeMap((entry) => {
        const letGo = entry.scope.tenant?.hold();
        const run = new Observable<unknown>((subscriber) => this.runtime.context.run(entry.scope, () => next.handle().subscribe(subscriber)));
        return run.pipe(finalize(() => (letGo?.(), unit ? undefined : entry.release())));
      }),
      catchError((error: unknown) => throwError(() => toGraphqlError(error))),
    );
  }

  private operationUnit(key: object, request: TenantRequest, response: ClosingResponse): Promise<EnteredUnit> {
    let unit = this.#operations.get(key);
    if (!unit) {
      unit = enterTenantOf(this.runtime, request).then((entry) => {
        if (response.closed) entry.release(); // the client left while the tenant was opening
        else response.once('close', entry.release);
        return entry;
      });
      this.#operations.set(key, unit);
    }
    return unit;
  }
}
