/** What happened to one tenant in a migration run. */
export type TenantMigrationStatus = 'migrated' | 'up-to-date' | 'failed' | 'skipped';

export interface TenantMigrationResult {
  tenantId: string;
  status: TenantMigrationStatus;
  /** Migrations applied (up) or reverted (down) for this tenant, in order. */
  migrations: string[];
  durationMs: number;
  /** Why it failed (`failed`) or why it was not attempted (`skipped`). */
  error?: string;
}

export type MigrationDirection = 'up' | 'down';

/** The outcome of migrating many tenants: one result per tenant plus counts. `ok` is false when any failed. */
export interface TenantMigrationReport {
  context: string;
  direction: MigrationDirection;
  ok: boolean;
  durationMs: number;
  counts: Record<TenantMigrationStatus, number>;
  tenants: TenantMigrationResult[];
}

export function buildReport(context: string, direction: MigrationDirection, results: TenantMigrationResult[], durationMs: number): TenantMigrationReport {
  const counts: Record<TenantMigrationStatus, number> = { migrated: 0, 'up-to-date': 0, failed: 0, skipped: 0 };
  for (const result of results) counts[result.status]++;
  return { context, direction, ok: counts.failed === 0, durationMs, counts, tenants: results };
}

/** Migration state of one tenant (or one static context). */
export interface MigrationStatus {
  /** Tenant id, or undefined for a static context. */
  tenantId?: string;
  executed: string[];
  pending: string[];
  /** Set when the state could not be read (e.g. the tenant's schema or database does not exist). */
  error?: string;
}
