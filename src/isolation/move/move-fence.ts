import { sqlStateOf } from '../../errors/sql-state.js';
import { tablesOf } from './move-catalog.js';
import type { MoveNames } from './move-names.js';
import { currentLsn, waitConfirmed } from './move-replication.js';
import { copySequences } from './move-sequences.js';
import { type MoveSide, qualified, quoteIdent } from './move-sql.js';
import { TenantMoveError, TenantMoveVerificationError } from './move.errors.js';
import { digestDifferences, sourceColumns, tableDigests, targetDigests } from './table-digests.js';

export interface FenceTiming {
  /** lock_timeout of the table locks: a long transaction on the source makes the attempt fail (and retry) instead of stalling writers. */
  readonly lockTimeoutMs: number;
  /** How long the target may take to confirm the source's last change once locked. */
  readonly catchUpTimeoutMs: number;
}

/** A fence attempt that failed for a passing reason (a lock not granted in time, slow catch-up): retried. */
export class TenantMoveFenceAttemptError extends TenantMoveError {
  constructor(schema: string, reason: string, cause?: unknown) {
    super(schema, 'fence', reason, cause);
  }
}

// 55P03 lock_not_available (lock_timeout), 40P01 deadlock_detected
const PASSING_SQLSTATES = new Set(['55P03', '40P01']);

export function isPassingFenceFailure(error: unknown): boolean {
  if (error instanceof TenantMoveFenceAttemptError) return true;
  const state = sqlStateOf(error);
  return state !== undefined && PASSING_SQLSTATES.has(state);
}

/**
 * The final catch-up, in ONE source transaction: every table of the schema locked in EXCLUSIVE mode (reads go
 * on, writes wait), the target waited for up to the source's current WAL position, sequences copied, every table
 * verified on both sides, then the schema renamed to its parked name, and committed. Writers that waited for the
 * lock then fail with "relation does not exist" (PostgreSQL looks the name up again once it gets the lock), so
 * no write can land on the source after the commit, in any session; before the commit nothing has changed.
 */
export async function fenceAndPark(source: MoveSide, target: MoveSide, schema: string, names: MoveNames, timing: FenceTiming, step: (name: 'fence-locked' | 'fence-verified') => Promise<void>): Promise<{ tables: number; rows: number }> {
  return source.transaction(async (q) => {
    await q(`set local lock_timeout = '${Math.max(1, Math.round(timing.lockTimeoutMs))}ms'`);
    const tables = await tablesOf(q, schema);
    await q(`lock table ${tables.map((t) => qualified(schema, t)).join(', ')} in exclusive mode`);
    const locked = await tablesOf(q, schema);
    if (locked.join('\n') !== tables.join('\n')) throw new TenantMoveFenceAttemptError(schema, 'a table was created or dropped in the schema while locking');
    await step('fence-locked');
    const lsn = await currentLsn(q);
    if (!(await waitConfirmed(q, names.subscription, lsn, timing.catchUpTimeoutMs))) {
      throw new TenantMoveFenceAttemptError(schema, `the target did not confirm the source's position ${lsn} within ${timing.catchUpTimeoutMs} ms`);
    }
    await copySequences(q, schema, (fn) => target.transaction(fn), schema);
    const columns = await sourceColumns(q, schema);
    const [sourceDigests, copy] = await Promise.all([tableDigests(q, schema, columns), target.transaction((t) => targetDigests(t, schema, columns))]);
    const differences = digestDifferences(sourceDigests, copy.digests, copy.missing);
    if (differences.length) throw new TenantMoveVerificationError(schema, differences);
    await q(`alter schema ${quoteIdent(schema)} rename to ${quoteIdent(names.parkedSchema)}`);
    await step('fence-verified');
    return { tables: tables.length, rows: [...sourceDigests.values()].reduce((sum, d) => sum + Number(d.rows), 0) };
  });
}

/**
 * A rerun that finds the source parked (the fence committed) but the record not switched: the target has taken no
 * write since, so the same verification must hold against the parked schema. Sequences are copied again (no-op).
 */
export async function verifyParked(source: MoveSide, target: MoveSide, schema: string, names: MoveNames): Promise<void> {
  await source.transaction(async (q) => {
    await copySequences(q, names.parkedSchema, (fn) => target.transaction(fn), schema);
    const columns = await sourceColumns(q, names.parkedSchema);
    const sourceDigests = await tableDigests(q, names.parkedSchema, columns);
    const copy = await target.transaction((t) => targetDigests(t, schema, columns));
    const differences = digestDifferences(sourceDigests, copy.digests, copy.missing);
    if (differences.length) throw new TenantMoveVerificationError(schema, differences);
  });
}
