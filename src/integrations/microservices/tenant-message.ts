import { HttpStatus } from '@nestjs/common';
import { TenancyError } from '../../errors/tenancy.error.js';

/**
 * The key of the envelope's tenant. Nest's TCP transport carries a pattern and a payload only (no headers), so the
 * tenant travels in the payload: `{ __tenant: 'acme', data: <your payload> }`. An envelope rather than a key merged
 * into your data, so any payload (a string, an array) can be sent, and handlers get your payload back unchanged.
 */
export const TENANT_MESSAGE_KEY = '__tenant';

/** What TenantClientProxy sends and TenantRpcInterceptor unwraps. */
export interface TenantMessage<D = unknown> {
  readonly [TENANT_MESSAGE_KEY]: string;
  readonly data: D;
}

export const toTenantMessage = <D>(tenantId: string, data: D): TenantMessage<D> => ({ [TENANT_MESSAGE_KEY]: tenantId, data });

/** The envelope's tenant id (not validated yet), or undefined when the payload is no tenant envelope. */
export function tenantOfMessage(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== 'object' || !('data' in payload)) return undefined;
  const tenant = (payload as Record<string, unknown>)[TENANT_MESSAGE_KEY];
  return typeof tenant === 'string' ? tenant : undefined;
}

/** A tenant message handler got a payload without a tenant envelope: it never runs without a tenant. */
export class TenantMessageRequiredError extends TenancyError {
  constructor(pattern: string) {
    super(
      `The handler of ${pattern} needs a tenant and the message carries none: send it with TenantClientProxy from ` +
        `inside a tenant (the payload must be { "${TENANT_MESSAGE_KEY}": "<tenant>", "data": ... }).`,
      HttpStatus.BAD_REQUEST,
      'Bad Request',
    );
  }
}

/** A message was sent through TenantClientProxy where no tenant is active. */
export class NoTenantForMessageError extends TenancyError {
  constructor(pattern: string) {
    super(
      `Message ${pattern} was sent through TenantClientProxy where no tenant is active. Send it while serving a tenant ` +
        `(a request with a tenant, TenancyService.run(tenantId, fn)); central messages go through the plain ClientProxy.`,
      HttpStatus.BAD_REQUEST,
      'Bad Request',
    );
  }
}

/** A message pattern for messages: JSON, as Nest writes it (patterns are yours, not a client's input). */
export const showPattern = (pattern: unknown): string => `pattern ${JSON.stringify(pattern)}`;
