import type { IncomingHttpHeaders } from 'node:http';

/** The parts of a request resolvers read: the same on express and fastify (Nest middleware gets the raw request). */
export interface TenantRequest {
  readonly headers: IncomingHttpHeaders;
  readonly url?: string;
  /** Express keeps the full URL here when middleware is mounted on a path. */
  readonly originalUrl?: string;
}

/** Finds the tenant id in a request; `undefined` means "not here, ask the next resolver". */
export interface TenantResolver {
  /** Tells a client how to send a tenant this way, e.g. `header "x-tenant-id: <tenant>"`. */
  readonly describe: string;
  resolve(request: TenantRequest): string | undefined | Promise<string | undefined>;
}
