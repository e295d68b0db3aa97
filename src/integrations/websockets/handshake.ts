import type { IncomingHttpHeaders } from 'node:http';
import type { TenantRequest } from '../../resolution/tenant-resolver.js';

/** The part of a socket.io socket this integration reads: its handshake (headers, and the URL with its query). */
export interface HandshakeCarrier {
  readonly handshake?: { readonly headers: IncomingHttpHeaders; readonly url?: string };
}

/**
 * The handshake as a request for the resolver chain: the header, subdomain and query resolvers work unchanged
 * (socket.io's handshake URL is `/socket.io/?tenant=acme&EIO=4...`). Undefined for a client that has none.
 */
export function handshakeRequest(client: HandshakeCarrier): TenantRequest | undefined {
  const handshake = client.handshake;
  return handshake ? { headers: handshake.headers, url: handshake.url } : undefined;
}
