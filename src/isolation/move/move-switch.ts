import type { Logger } from '@nestjs/common';
import { TenantMoveError } from './move.errors.js';

/** Points a test (or an operator's tooling) can observe; the move awaits the callback before going on. */
export type SchemaMoveStep = 'target-ready' | 'subscribed' | 'synced' | 'fence-locked' | 'fence-verified' | 'fence-committed' | 'switched' | 'done';

export interface SchemaMoveTiming {
  /** Initial copy + catching up before the fence (default 30 min). */
  syncTimeoutMs?: number;
  /** Fence only once a catch-up probe takes less than this (default 500 ms). */
  catchUpMs?: number;
  /** lock_timeout of the fence's table locks (default 1000 ms). */
  fenceLockTimeoutMs?: number;
  /** How long the locked source waits for the target to confirm its last change (default 3000 ms). */
  catchUpTimeoutMs?: number;
  /** Fence attempts before giving up (default 5). */
  fenceAttempts?: number;
}

/** What every move asks of its caller: the tenant's record, the fleet-wide hold of its work, progress. */
export interface MoveCallbacks {
  /** Whether the tenant record already points at the target (a rerun after the switch only cleans up). */
  recordPointsAtTarget(): Promise<boolean>;
  /** Points the tenant record at the target; idempotent. */
  switchRecord(): Promise<void>;
  /** Holds / releases the tenant's work fleet-wide; both idempotent (a rerun may repeat them). */
  fence(): Promise<void>;
  unfence(): Promise<void>;
  /** Server names for messages (default 'source server' / 'target server'). */
  readonly labels?: { source: string; target: string };
  readonly timing?: SchemaMoveTiming;
  onStep?(step: SchemaMoveStep): void | Promise<void>;
  readonly logger?: Logger;
}

/**
 * The switch, once the copy is verified and the source can take no write: the record pointed at the target, then
 * `afterSwitch` (a move into the shared tier lifts the tenant's mark there), then the tenant's work released. A
 * failed switch leaves the work held: a rerun switches.
 */
export async function switchRecord(callbacks: MoveCallbacks, schema: string, verified: string, step: (name: SchemaMoveStep) => Promise<void>, afterSwitch?: () => Promise<void>): Promise<void> {
  try {
    await callbacks.switchRecord();
  } catch (error) {
    throw new TenantMoveError(schema, 'switch', `${verified}, but switching the record failed: rerun the move to switch it (the tenant's writes stay held until then)`, error);
  }
  await afterSwitch?.();
  await callbacks.unfence();
  await step('switched');
}
