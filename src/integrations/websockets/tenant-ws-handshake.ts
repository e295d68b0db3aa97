import { Inject, Injectable, Logger } from '@nestjs/common';
import { TenancyRuntime } from '../../runtime/tenancy-runtime.js';
import { clientStatusOf, enterTenantOf } from '../enter-tenant.js';
import { type HandshakeCarrier, handshakeRequest } from './handshake.js';

/** What a refused client gets as `connect_error`: `error.message`, and `error.data` = `{ status, message }`. */
export class TenantHandshakeError extends Error {
  constructor(readonly data: { status: number; message: string }) {
    super(data.message);
    this.name = 'TenantHandshakeError';
  }
}

/**
 * Checks the tenant of a connection before it is accepted: a socket.io middleware (`server.use(...)` in the
 * gateway's `afterInit`) that refuses an invalid, unknown, suspended or unavailable tenant with socket.io's own
 * `connect_error`, carrying the status the HTTP middleware would answer. Connections without a tenant are let in
 * (their handlers fail closed); add `requireTenant: true` to refuse them too.
 */
@Injectable()
export class TenantWsHandshake {
  readonly #logger = new Logger('TenantWsHandshake');

  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  middleware(options: { requireTenant?: boolean } = {}): (client: HandshakeCarrier, next: (error?: Error) => void) => void {
    return (client, next) => {
      this.check(client, options.requireTenant ?? false).then(
        () => next(),
        (error: unknown) => next(error instanceof Error ? error : new Error(String(error))),
      );
    };
  }

  private async check(client: HandshakeCarrier, requireTenant: boolean): Promise<void> {
    const request = handshakeRequest(client);
    if (!request) throw new TenantHandshakeError({ status: 400, message: 'This connection has no handshake to read a tenant from.' });
    let entry;
    try {
      entry = await enterTenantOf(this.runtime, request);
    } catch (error) {
      const visible = clientStatusOf(error);
      if (visible) throw new TenantHandshakeError(visible);
      // not a refusal: logged here, and the client gets no driver message (socket.io sends error.message as is)
      this.#logger.error(`Checking the tenant of a connection failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      throw new TenantHandshakeError({ status: 500, message: 'Internal server error' });
    }
    // the connection only proves the tenant can be served: each message enters it again (TenantWsInterceptor)
    entry.release();
    if (requireTenant && !entry.scope.tenant) {
      const howToSend = this.runtime.tenants?.chain.howToSend ?? 'configure { tenancy } in MikroTenancyModule.forRoot';
      throw new TenantHandshakeError({ status: 400, message: `This gateway needs a tenant and none was sent: ${howToSend}.` });
    }
  }
}
