import { TenancyError } from '../../errors/tenancy.error.js';

/** The step of a schema move an error happened in (see docs/moving-tenants.md). */
export type MoveStepName = 'check' | 'target' | 'subscribe' | 'sync' | 'fence' | 'verify' | 'switch' | 'cleanup';

/**
 * A schema move between two PostgreSQL servers could not go on. Every subclass says which schema, which step, and
 * what to fix; rerunning the move after the fix continues where it stopped (nothing is lost or done twice).
 */
export class TenantMoveError extends TenancyError {
  constructor(readonly schema: string, readonly step: MoveStepName, message: string, cause?: unknown) {
    super(`Moving schema "${schema}" (step: ${step}): ${message}`, undefined, undefined, { cause });
  }
}

/** A server setting or version that logical replication needs is missing. */
export class TenantMoveServerNotReadyError extends TenantMoveError {
  constructor(schema: string, server: string, problem: string, fix: string) {
    super(schema, 'check', `the ${server} ${problem}. ${fix} Nothing was changed.`);
  }
}

/** A table of the schema has no replica identity: PostgreSQL would refuse the app's UPDATE/DELETE on it once published. */
export class TenantMoveTableWithoutKeyError extends TenantMoveError {
  constructor(schema: string, readonly tables: readonly string[]) {
    super(
      schema,
      'check',
      `table(s) ${tables.join(', ')} have no primary key (no replica identity), so logical replication cannot carry their ` +
        `updates and deletes (and PostgreSQL would refuse them on the source once published). Add a primary key, or ` +
        `ALTER TABLE ... REPLICA IDENTITY FULL, then rerun the move. Nothing was changed.`,
    );
  }
}

/** The target server already has this schema, marked as another tenant's (or holding data of another origin). */
export class TenantMoveTargetConflictError extends TenantMoveError {
  constructor(schema: string, sourceMark: string | undefined, targetMark: string | undefined) {
    super(
      schema,
      'target',
      `the target server already has a schema "${schema}" whose mark (${targetMark ?? 'none'}) differs from the source's ` +
        `(${sourceMark ?? 'none'}): it is not a copy in progress of this tenant, so it is left alone. Drop or rename it on ` +
        `the target if it is stale, or move the tenant to another server.`,
    );
  }
}

/** The initial copy or the catch-up did not finish in the given time. */
export class TenantMoveSyncTimeoutError extends TenantMoveError {
  constructor(schema: string, detail: string) {
    super(
      schema,
      'sync',
      `the target did not catch up with the source in time (${detail}). Look at the target server's log for errors of ` +
        `the logical replication workers (a missing table or column, a duplicate key) and at pg_stat_subscription_stats, ` +
        `and check that the target has a free logical replication worker for the copy (max_logical_replication_workers, ` +
        `max_worker_processes; each move needs one plus up to max_sync_workers_per_subscription while copying); ` +
        `fix them and rerun the move: the subscription is kept and the copy continues.`,
    );
  }
}

/** Counts or checksums differ between the source and the target under the fence: nothing was switched. */
export class TenantMoveVerificationError extends TenantMoveError {
  constructor(schema: string, readonly differences: readonly string[]) {
    super(
      schema,
      'verify',
      `the target does not hold the same rows as the source (${differences.join('; ')}). The tenant still runs on the ` +
        `source and was unfenced. Check that the target schema was migrated to the same version as the source ` +
        `(same columns and types), then rerun the move.`,
    );
  }
}

/** The fence could not be taken (locks or catch-up) within the given attempts: the tenant kept running on the source. */
export class TenantMoveFenceError extends TenantMoveError {
  constructor(schema: string, attempts: number, cause: unknown) {
    super(
      schema,
      'fence',
      `the final catch-up could not be done within ${attempts} attempt(s) (${cause instanceof Error ? cause.message : String(cause)}). ` +
        `Long transactions on the tenant's tables block the lock, or the target is slow to apply. The tenant still runs ` +
        `on the source and was unfenced: rerun the move (raise fenceLockTimeoutMs or catchUpTimeoutMs if it keeps failing).`,
      cause,
    );
  }
}

/** What PostgreSQL shows matches no step of a move (e.g. the schema missing on both servers). */
export class TenantMoveStateError extends TenantMoveError {
  constructor(schema: string, problem: string) {
    super(schema, 'check', `${problem}. The move cannot tell how to go on; nothing was changed.`);
  }
}
