// nestjs-mikro-tenancy/microservices: tenant messages over @nestjs/microservices (optional peer)
export { TenantClientProxy, InjectTenantClient, getTenantClientToken } from './tenant-client-proxy.js';
export { TenantRpcInterceptor } from './tenant-rpc.interceptor.js';
export {
  TENANT_MESSAGE_KEY,
  type TenantMessage,
  toTenantMessage,
  tenantOfMessage,
  NoTenantForMessageError,
  TenantMessageRequiredError,
} from './tenant-message.js';
