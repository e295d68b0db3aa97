/**
 * What happened to one tenant in a migration run. `invalid`: a row of the tenant store that cannot be a tenant (its
 * id, or the schema or database name derived from it, breaks the identifier rules); it is never migrated and never
 * stops or skips the others.
 */
export type TenantMigrationStatus = 'migrated' | 'up-to-date' | 'failed' | 'skipped' | 'invalid';

export interface TenantMigrationResult {
  /** The tenant id; for an `invalid` row whose id breaks the id rules, that id escaped (printableTenantId), never raw. */
  tenantId: string;
  status: TenantMigrationStatus;
  /** Migrations applied (up) or reverted (down) for this tenant, in order. */
  migrations: string[];
  durationMs: number;
  /** Why it failed (`failed`), why it was not attempted (`skipped`), or which rule the row breaks (`invalid`). */
  error?: string;
}

export type MigrationDirection = 'up' | 'down';

/** The outcome of migrating many tenants: one result per tenant (and per `invalid` store row) plus counts. */
export interface TenantMigrationReport {
  context: string;
  direction: MigrationDirection;
  /**
   * False when a tenant failed (tenants are `skipped` only after one did): a migration went wrong. `invalid` rows
   * do not make it false: they are not tenants, nothing was attempted for them, and every tenant was still migrated.
   * Each is logged as an error and counted in `counts.invalid`, which a caller that must act on them checks.
   */
  ok: boolean;
  durationMs: number;
  counts: Record<TenantMigrationStatus, number>;
  tenants: TenantMigrationResult[];
  /**
   * Shared-table isolation: the migrations ran once, on the tables every tenant shares (`tenantId` is
   * `(shared tables)`); each tenant's result repeats that outcome.
   */
  sharedTables?: TenantMigrationResult;
}

export function buildReport(context: string, direction: MigrationDirection, results: TenantMigrationResult[], durationMs: number): TenantMigrationReport {
  const counts: Record<TenantMigrationStatus, number> = { migrated: 0, 'up-to-date': 0, failed: 0, skipped: 0, invalid: 0 };
  for (const result of results) counts[result.status]++;
  return { context, direction, ok: counts.failed === 0, durationMs, counts, tenants: results };
}

/** Migration state of one tenant (or one static context). */
export interface MigrationStatus {
  /** Tenant id, or undefined for a static context (escaped for an `invalid` row whose id breaks the id rules). */
  tenantId?: string;
  executed: string[];
  pending: string[];
  /** Set when the state could not be read (e.g. the tenant's schema or database does not exist), or why a row is `invalid`. */
  error?: string;
  /** A row of the tenant store that cannot be a tenant (see TenantMigrationStatus `invalid`): nothing was read for it. */
  invalid?: true;
}
