import { Inject, type Provider } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { type Observable, throwError } from 'rxjs';
import { TenancyService } from '../../runtime/tenancy.service.js';
import { NoTenantForMessageError, showPattern, toTenantMessage } from './tenant-message.js';

/** The injection token of the TenantClientProxy of a client registered with ClientsModule.register([{ name }]). */
export const getTenantClientToken = (clientName: string): string => `TenantClientProxy:${clientName}`;

/** Injects the TenantClientProxy of `clientName` (provide it with `TenantClientProxy.provider(clientName)`). */
export const InjectTenantClient = (clientName: string): ParameterDecorator & PropertyDecorator => Inject(getTenantClientToken(clientName));

/**
 * A ClientProxy whose messages carry the tenant they are sent from: `send`/`emit` read the current tenant at the call
 * and wrap the payload in `{ __tenant, data }`; the receiving handler (with TenantRpcInterceptor) runs in that tenant.
 * Outside a tenant the returned Observable errors instead of sending. `client` is the plain ClientProxy.
 */
export class TenantClientProxy {
  constructor(readonly client: ClientProxy, private readonly tenancy: TenancyService) {}

  /** A provider of the TenantClientProxy of `clientName`; the client itself comes from ClientsModule.register. */
  static provider(clientName: string): Provider {
    return {
      provide: getTenantClientToken(clientName),
      useFactory: (client: ClientProxy, tenancy: TenancyService) => new TenantClientProxy(client, tenancy),
      inject: [clientName, TenancyService],
    };
  }

  /** Request-response, for the current tenant. */
  send<R = unknown, D = unknown>(pattern: unknown, data: D): Observable<R> {
    const tenant = this.tenancy.currentOrUndefined();
    if (!tenant) return throwError(() => new NoTenantForMessageError(showPattern(pattern)));
    return this.client.send<R>(pattern, toTenantMessage(tenant.id, data));
  }

  /** An event, for the current tenant. */
  emit<R = unknown, D = unknown>(pattern: unknown, data: D): Observable<R> {
    const tenant = this.tenancy.currentOrUndefined();
    if (!tenant) return throwError(() => new NoTenantForMessageError(showPattern(pattern)));
    return this.client.emit<R>(pattern, toTenantMessage(tenant.id, data));
  }
}
