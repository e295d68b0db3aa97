import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { catchError, finalize, from, mergeMap, Observable, throwError } from 'rxjs';
import { TenancyRuntime } from '../../runtime/tenancy-runtime.js';
import { clientStatusOf, enterTenantOf } from '../enter-tenant.js';
import { type HandshakeCarrier, handshakeRequest } from './handshake.js';

/** A TenancyError (or any HttpException) as the payload of socket.io's `exception` event: `{ status, message }`. */
export function toWsException(error: unknown): unknown {
  if (error instanceof WsException) return error;
  const visible = clientStatusOf(error);
  return visible ? new WsException({ status: visible.status, message: visible.message }) : error;
}

/**
 * Runs each message handler of a gateway inside the tenant of its connection, like a request: resolved from the
 * handshake (headers, query) by the module's resolver chain, validated and looked up on every message (cached), with
 * a fresh fork per message, given back when the handler ends. Without a tenant the scope is empty, so the tenant
 * EntityManager fails closed. Refusals and that error reach the client as an `exception` event `{ status, message }`.
 */
@Injectable()
export class TenantWsInterceptor implements NestInterceptor {
  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'ws') return next.handle();
    const request = handshakeRequest(context.switchToWs().getClient<HandshakeCarrier>());
    if (!request) return throwError(() => new WsException({ status: 500, message: 'TenantWsInterceptor: this client has no handshake; it works with the socket.io adapter.' }));
    return from(enterTenantOf(this.runtime, request)).pipe(
      mergeMap((entry) =>
        // next.handle() is called inside run(): Nest binds the handler to the async context current at that moment
        new Observable<unknown>((subscriber) => this.runtime.context.run(entry.scope, () => next.handle().subscribe(subscriber))).pipe(finalize(entry.release)),
      ),
      catchError((error: unknown) => throwError(() => toWsException(error))),
    );
  }
}
