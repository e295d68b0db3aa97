// Module
export { MikroTenancyModule } from './module/mikro-tenancy.module.js';
export type {
  ContextConfig,
  MikroTenancyAsyncDeclaration,
  MikroTenancyModuleAsyncOptions,
  MikroTenancyModuleOptions,
  MikroTenancyOptionsFactory,
  TenancyOptions,
  TenantIdRules,
  TenantInjection,
  TenantIsolation,
  TenantPoolOptions,
} from './module/tenancy-options.js';
export { DEFAULT_CONTEXT, DEFAULT_TENANT_CONTEXT } from './module/tokens.js';
export { InjectEntityManager, InjectMikroORM, InjectRepository } from './module/inject.decorators.js';
export { getEntityManagerToken, getMikroORMToken, getRepositoryToken } from '@mikro-orm/nestjs';

// Request context and tenants
export { TenancyService, type ForEachTenantOptions } from './context/tenancy.service.js';
export { RequireTenant } from './context/require-tenant.js';
export { CurrentTenant } from './context/current-tenant.decorator.js';
export { TenantResolvers, type PathResolverOptions, type SubdomainResolverOptions } from './resolution/tenant-resolvers.js';
export type { TenantRequest, TenantResolver } from './resolution/tenant-resolver.js';
export type { StaticContexts, TenantRecord, TenantStore } from './tenants/tenant-store.js';
export { TenantStores } from './tenants/tenant-stores.js';
export { StaticTenantStore } from './tenants/static-tenant-store.js';
export { TableTenantStore, type TableTenantStoreOptions } from './tenants/table-tenant-store.js';

// Errors
export * from './errors/index.js';
