import type { TenantLifecycle } from 'nestjs-mikro-tenancy';

export async function migrateEverything(lifecycle: TenantLifecycle) {
const report = await lifecycle.migrate({ concurrency: 4 });          // every tenant in the store
await lifecycle.migrate({ tenants: ['acme', 'globex'], continueOnError: true });
await lifecycle.rollback({ tenants: ['acme'] });                     // reverts each tenant's last migration
const statuses = await lifecycle.status(['acme']);                   // [{ tenantId, executed, pending, error? }]
  return { report, statuses };
}
