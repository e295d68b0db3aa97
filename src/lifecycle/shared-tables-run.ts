import type { TenantWorker } from './fan-out.js';
import type { TenantMigrationResult } from './migration-report.js';

/** How the shared tables appear in a migration report (never a valid tenant id: it has parentheses and a space). */
export const SHARED_TABLES = '(shared tables)';

/**
 * Shared-table isolation: the tenant migrations run once, on the tables every tenant shares, even with no tenant yet
 * (`worker` migrates SHARED_TABLES); each tenant's result repeats that outcome, reported through `onResult` in order.
 */
export async function runOnSharedTables(
  worker: TenantWorker,
  tenantIds: string[],
  onResult?: (result: TenantMigrationResult, done: number, total: number) => void,
): Promise<{ sharedTables: TenantMigrationResult; results: TenantMigrationResult[] }> {
  let sharedTables: TenantMigrationResult;
  try {
    sharedTables = await worker.run(SHARED_TABLES);
  } finally {
    await worker.close();
  }
  const results = tenantIds.map((tenantId, i): TenantMigrationResult => {
    const result = { ...sharedTables, tenantId };
    onResult?.(result, i + 1, tenantIds.length);
    return result;
  });
  return { sharedTables, results };
}
