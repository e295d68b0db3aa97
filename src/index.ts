// Module
export { MikroTenancyModule } from './module/mikro-tenancy.module.js';
export type {
  ContextConfig,
  MikroTenancyAsyncDeclaration,
  MikroTenancyModuleAsyncOptions,
  MikroTenancyModuleOptions,
  MikroTenancyOptionsFactory,
  TenancyOptions,
  TenantChangesOptions,
  TenantIdRules,
  TenantInjection,
  TenantIsolation,
  TenantPoolOptions,
  TenantSeeder,
  ReplicaLagOptions,
  SharedTablesOptions,
  SharedTierOptions,
} from './options/tenancy-options.js';
export type { DatabaseTierOptions, TenantPlacementPolicy, TenantServerLoad, TenantServerOptions } from './options/tenant-servers.js';
export { DEFAULT_CONTEXT, DEFAULT_TENANT_CONTEXT } from './options/tokens.js';
export { InjectEntityManager, InjectMikroORM, InjectRepository } from './module/inject.decorators.js';
export { getEntityManagerToken, getMikroORMToken, getRepositoryToken } from '@mikro-orm/nestjs';

// Request context and tenants
export { TenancyService, type ForEachTenantOptions, type TenantHandle, type TenantRun } from './runtime/tenancy.service.js';
export { NoTenant, RequireTenant } from './http/require-tenant.js';
export { TenantBound, type AuthenticatedTenantOf } from './http/tenant-binding.guard.js';
export { TenantAwareLogger, type CurrentTenantSource } from './observability/tenant-aware.logger.js';
export { TenantSqlTagsModule } from './integrations/sql-tags/tenant-sql-tags.module.js';
export { tenantSqlTag } from './observability/tenant-sql-tags.js';
export { tenantLogMixin } from './observability/tenant-log-mixin.js';
export { CurrentTenant } from './http/current-tenant.decorator.js';
export { TenantResolvers, type PathResolverOptions, type SubdomainResolverOptions } from './resolution/tenant-resolvers.js';
export type { TenantRequest, TenantResolver } from './resolution/tenant-resolver.js';
export type { StaticContexts, TenantRecord, TenantStore } from './tenants/tenant-store.js';
export { TenantStores } from './tenants/tenant-stores.js';
export { StaticTenantStore } from './tenants/static-tenant-store.js';
export { TableTenantStore, type TableTenantStoreOptions } from './tenants/table-tenant-store.js';

// Across contexts
export { loadRelated, type LoadRelatedOptions } from './loading/load-related.js';

// Read replicas
export { isPinnedToPrimary, pinToPrimary } from './replicas/primary-reads.js';
export type { ReplicaState, ReplicaStatus } from './replicas/replica-status.js';

// Lifecycle and migrations
export {
  TenantLifecycle,
  type TenantCreateOptions,
  type TenantCreateResult,
  type TenantDropOptions,
  type TenantDropResult,
  type TenantMoveOptions,
  type TenantMoveResult,
} from './lifecycle/tenant-lifecycle.js';
export type { SchemaMoveStep as TenantMoveStep } from './isolation/move/index.js';
export {
  TenantMoveError,
  TenantMoveServerNotReadyError,
  TenantMoveTableWithoutKeyError,
  TenantMoveTargetConflictError,
  TenantMoveStateError,
  TenantMoveFenceError,
} from './isolation/move/index.js';
export { TenantWriteFencedException } from './isolation/schema/fenced-write.js';
export { ContextMigrations } from './lifecycle/context-migrations.js';
export type { TenantMigrationOptions } from './lifecycle/tenant-migrations.js';
export type { CreateMigrationOptions, CreatedMigration } from './lifecycle/create-tenant-migration.js';
export type { TenantLifecycleEvent, TenantLifecycleEvents } from './lifecycle/lifecycle-events.js';
export type {
  MigrationDirection,
  MigrationStatus,
  TenantMigrationReport,
  TenantMigrationResult,
  TenantMigrationStatus,
} from './lifecycle/migration-report.js';

// Consistency across databases: the outbox (issue 19) and compensation
export { OutboxModule } from './outbox/outbox.module.js';
export type { OutboxModuleAsyncOptions, OutboxModuleOptions, OutboxRelayOptions } from './outbox/outbox.options.js';
export { Outbox, type OutboxMessageInput, type OutboxRetryResult } from './outbox/outbox.service.js';
export { OutboxHandler, type OutboxDelivery, type OutboxHandlerMethod, type OutboxHandlerOptions } from './outbox/outbox-handler.decorator.js';
export { OutboxMessage, type OutboxMessageStatus } from './outbox/outbox-message.entity.js';
export { OutboxReceipt } from './outbox/outbox-receipt.entity.js';
export type { OutboxRelayReport } from './outbox/outbox-relay.js';
export type { OutboxPassCounts } from './outbox/outbox-batch.js';
export type { OutboxSelection } from './outbox/outbox-source.js';
export type { OutboxSourceStatus, OutboxStatusReport } from './outbox/outbox-status.js';
export type { DeadMessage } from './outbox/outbox-queries.js';
export type { OutboxHealthDetails, OutboxHealthOptions } from './outbox/outbox-health.js';
export { InvalidOutboxOptionsError, OutboxSetupError, OutboxUsageError } from './outbox/outbox.errors.js';
export { compensate, type CompensationStep } from './consistency/compensate.js';
export { CompensationError, type UndoFailure } from './consistency/compensation.error.js';

// Errors
export * from './errors/index.js';
