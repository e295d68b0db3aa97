/** `nestjs-mikro-tenancy/websockets`: the tenant of each WebSocket connection and message (needs @nestjs/websockets). */
export { TenantWsInterceptor, toWsException } from './tenant-ws.interceptor.js';
export { TenantHandshakeError, TenantWsHandshake } from './tenant-ws-handshake.js';
export type { HandshakeCarrier } from './handshake.js';
