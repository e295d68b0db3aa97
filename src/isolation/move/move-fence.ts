import { sqlStateOf } from '../../errors/sql-state.js';
import { tablesOf } from './move-catalog.js';
import type { MoveNames } from './move-names.js';
import { currentLsn, waitConfirmed } from './move-replication.js';
import { copySequences } from './move-sequences.js';
import { type MoveQuery, type MoveSide, qualified, quoteIdent } from './move-sql.js';
import { TenantMoveError, TenantMoveVerificationError } from './move.errors.js';
import { type TableDigest, digestDifferences, sourceColumns, tableDigests, targetDigests } from './table-digests.js';

export interface FenceTiming {
  /** lock_timeout of the table locks: a long transaction on the source makes the attempt fail (and retry) instead of stalling writers. */
  readonly lockTimeoutMs: number;
  /** How long the target may take to confirm the source's last change once locked. */
  readonly catchUpTimeoutMs: number;
}

/** What the fence transaction did, and where its time went (ms). */
export interface FenceOutcome {
  readonly tables: number;
  readonly rows: number;
  readonly breakdown: { readonly lockMs: number; readonly catchUpMs: number; readonly verifyMs: number };
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
/** The target's digests of the source's tables (default: the same schema on the target, read in a transaction of its own). */
export type TargetDigestsOf = (columns: ReadonlyMap<string, readonly string[]>) => Promise<{ digests: Map<string, TableDigest>; missing: string[] }>;

const sameSchemaOn = (target: MoveSide, schema: string): TargetDigestsOf => (columns) => target.transaction((t) => targetDigests(t, schema, columns));

export async function fenceAndPark(
  source: MoveSide,
  target: MoveSide,
  schema: string,
  names: MoveNames,
  timing: FenceTiming,
  step: (name: 'fence-locked' | 'fence-verified') => Promise<void>,
  copyOf: TargetDigestsOf = sameSchemaOn(target, schema),
): Promise<FenceOutcome> {
  return source.transaction(async (q) => {
    const begun = performance.now();
    // if this process hangs or loses the network mid-fence, the server ends the transaction (and its locks) itself
    await q(`set local idle_in_transaction_session_timeout = '${IDLE_FENCE_MS}ms'`);
    const tables = await lockAllTables(q, schema, timing.lockTimeoutMs);
    const lockedAt = performance.now();
    await step('fence-locked');
    const lsn = await currentLsn(q);
    if (!(await waitConfirmed(q, names.subscription, lsn, timing.catchUpTimeoutMs))) {
      throw new TenantMoveFenceAttemptError(schema, `the target did not confirm the source's position ${lsn} within ${timing.catchUpTimeoutMs} ms (${await slotState(q, names.subscription)})`);
    }
    const caughtUpAt = performance.now();
    await copySequences(q, schema, (fn) => target.transaction(fn), schema);
    const columns = await sourceColumns(q, schema);
    const [sourceDigests, copy] = await Promise.all([tableDigests(q, schema, columns), copyOf(columns)]);
    const differences = digestDifferences(sourceDigests, copy.digests, copy.missing);
    if (differences.length) throw new TenantMoveVerificationError(schema, differences);
    await q(`alter schema ${quoteIdent(schema)} rename to ${quoteIdent(names.parkedSchema)}`);
    await step('fence-verified');
    const ms = (from: number, to: number) => Math.round(to - from);
    const breakdown = { lockMs: ms(begun, lockedAt), catchUpMs: ms(lockedAt, caughtUpAt), verifyMs: ms(caughtUpAt, performance.now()) };
    return { tables: tables.length, rows: [...sourceDigests.values()].reduce((sum, d) => sum + Number(d.rows), 0), breakdown };
  });
}

/** Where the move's slot stood when a catch-up timed out: tells a stalled walsender from a slow target. */
async function slotState(q: MoveQuery, slot: string): Promise<string> {
  const [row] = await q<{ confirmed: string | null; flushed: string; active: boolean | null }>(
    `select (select confirmed_flush_lsn::text from pg_replication_slots where slot_name = ?) as confirmed,
            pg_current_wal_flush_lsn()::text as flushed,
            (select active from pg_replication_slots where slot_name = ?) as active`,
    [slot, slot],
  );
  return `slot confirmed ${row?.confirmed ?? 'none'}, ${row?.active ? 'in use by a walsender' : 'not in use'}; source WAL flushed to ${row?.flushed}`;
}

/**
 * The longest the fence transaction may sit idle (waiting on this process, e.g. for the target's checksums) before
 * the source server ends it: a mover that hangs or is cut off never keeps the tenant's writers waiting for longer.
 */
const IDLE_FENCE_MS = 15_000;

/** Each wait for the table locks is kept well under deadlock_timeout (1 s by default), see lockAllTables. */
const LOCK_WAIT_MS = 150;

/**
 * Locks every table of the schema in EXCLUSIVE mode, one after the other. A transaction in flight may hold a table
 * not locked yet and want one locked already (a deadlock, which PostgreSQL detects only after deadlock_timeout,
 * while every writer waits). So each wait is bounded by LOCK_WAIT_MS; a try that times out gives back what it got
 * (rollback to a savepoint) and starts again with the table it could not get first, which breaks such cycles
 * whatever order the app writes its tables in; until `budgetMs`. Tables created meanwhile are caught by listing
 * them again once locked.
 */
async function lockAllTables(q: MoveQuery, schema: string, budgetMs: number): Promise<string[]> {
  const deadline = performance.now() + budgetMs;
  await q(`set local lock_timeout = '${LOCK_WAIT_MS}ms'`);
  let first: string | undefined;
  for (;;) {
    const tables = await tablesOf(q, schema);
    const order = first && tables.includes(first) ? [first, ...tables.filter((t) => t !== first)] : tables;
    await q('savepoint nmt_lock');
    let current: string | undefined;
    try {
      for (current of order) await q(`lock table ${qualified(schema, current)} in exclusive mode`);
    } catch (error) {
      await q('rollback to savepoint nmt_lock');
      if (!isPassingFenceFailure(error) || performance.now() > deadline) throw error;
      first = current;
      continue;
    }
    await q('release savepoint nmt_lock');
    const locked = await tablesOf(q, schema);
    if (locked.join('\n') !== tables.join('\n')) throw new TenantMoveFenceAttemptError(schema, 'a table was created or dropped in the schema while locking');
    return tables;
  }
}

/**
 * A rerun that finds the source parked (the fence committed) but the record not switched: the target has taken no
 * write since, so the same verification must hold against the parked schema. Sequences are copied again (no-op).
 */
export async function verifyParked(source: MoveSide, target: MoveSide, schema: string, names: MoveNames, copyOf: TargetDigestsOf = sameSchemaOn(target, schema)): Promise<void> {
  await source.transaction(async (q) => {
    await copySequences(q, names.parkedSchema, (fn) => target.transaction(fn), schema);
    const columns = await sourceColumns(q, names.parkedSchema);
    const sourceDigests = await tableDigests(q, names.parkedSchema, columns);
    const copy = await copyOf(columns);
    const differences = digestDifferences(sourceDigests, copy.digests, copy.missing);
    if (differences.length) throw new TenantMoveVerificationError(schema, differences);
  });
}
