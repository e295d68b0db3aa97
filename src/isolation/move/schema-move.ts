import { Logger } from '@nestjs/common';
import { sourceStateOf, targetStateOf } from './move-catalog.js';
import { checkMovePossible } from './move-checks.js';
import { cleanUpMove } from './move-cleanup.js';
import { type FenceOutcome, fenceAndPark, isPassingFenceFailure, verifyParked } from './move-fence.js';
import { type MoveNames, moveNamesOf } from './move-names.js';
import { createSlot, createSubscription, dropSlot, ensurePublication, sleep, startCopy, waitUntilSynced } from './move-replication.js';
import type { MoveSide } from './move-sql.js';
import { TenantMoveError, TenantMoveFenceError, TenantMoveStateError, TenantMoveTargetConflictError } from './move.errors.js';
import { type MoveCallbacks, type SchemaMoveStep, type SchemaMoveTiming, switchRecord } from './move-switch.js';

const PARKED_AND_VERIFIED = 'the source is parked and the target verified';

export type { SchemaMoveStep, SchemaMoveTiming } from './move-switch.js';

export interface SchemaMoveOptions extends MoveCallbacks {
  readonly source: MoveSide;
  readonly target: MoveSide;
  /** The tenant's schema: the same name on both servers. */
  readonly schema: string;
  /** Names the publication, subscription, slot and parked schema; the same id on every rerun (moveIdFor()). */
  readonly moveId: string;
  /** libpq connection string of the source database as the TARGET server reaches it (CREATE SUBSCRIPTION). */
  readonly sourceConninfo: string;
  /** Creates the schema on the target and applies the tenant migrations; idempotent (called again by a rerun). */
  createTargetSchema(): Promise<void>;
}

export interface SchemaMoveReport {
  /** Where this run started from, as PostgreSQL showed it. */
  readonly startedAt: 'new' | 'subscribed' | 'parked' | 'switched';
  /** fence() called to unfence() returned (undefined when this run did not fence). */
  readonly fencedMs: number | undefined;
  /** Fence attempts made (retries after a lock or catch-up timeout). */
  readonly fenceAttempts: number;
  readonly tables: number | undefined;
  readonly rows: number | undefined;
  /** Inside the fence transaction: waiting for the locks, for the target to catch up, then sequences + verification + rename. */
  readonly breakdown: FenceOutcome['breakdown'] | undefined;
}

/**
 * Moves a tenant schema from one PostgreSQL server to another while the app runs, on PostgreSQL's logical
 * replication (see docs/moving-tenants.md). Every run derives where it is from what the two servers show, so a
 * rerun after a crash at any point continues. The record is switched only after the source schema was renamed
 * under the fence: at no time do two copies take writes.
 */
export async function moveSchema(options: SchemaMoveOptions): Promise<SchemaMoveReport> {
  const { source, target, schema } = options;
  const names = moveNamesOf(schema, options.moveId);
  const logger = options.logger ?? new Logger('TenantMove');
  const step = async (name: SchemaMoveStep) => void (await options.onStep?.(name));
  const cleanup = async () => {
    await cleanUpMove(source.query, target.query, schema, names);
    logger.log(`Moved schema "${schema}": the source's copy, publication, subscription and slot are removed`);
    await step('done');
  };

  if (await options.recordPointsAtTarget()) {
    await options.unfence();
    await cleanup();
    return { startedAt: 'switched', fencedMs: undefined, fenceAttempts: 0, tables: undefined, rows: undefined, breakdown: undefined };
  }
  const src = await sourceStateOf(source.query, schema, names);
  if (src.original && src.parked) throw new TenantMoveStateError(schema, `the source has both "${schema}" and its parked copy "${names.parkedSchema}" (the schema was created again after a fence)`);
  if (src.parked) {
    logger.log(`Moving schema "${schema}": the source was parked by an earlier run; verifying again, then switching`);
    await verifyParked(source, target, schema, names);
    await switchRecord(options, schema, PARKED_AND_VERIFIED, step);
    await cleanup();
    return { startedAt: 'parked', fencedMs: undefined, fenceAttempts: 0, tables: undefined, rows: undefined, breakdown: undefined };
  }
  if (!src.original) throw new TenantMoveStateError(schema, `the schema exists on the source under neither "${schema}" nor "${names.parkedSchema}", and the record does not point at the target`);

  const labels = options.labels ?? { source: 'source server', target: 'target server' };
  let dst = await targetStateOf(target.query, schema, names);
  const startedAt = dst.subscriptionOid ? 'subscribed' : 'new';
  if (!dst.subscriptionOid) {
    const { sameServer } = await checkMovePossible(source.query, target.query, schema, labels);
    checkSameTenant(schema, src.mark, dst.mark);
    await options.createTargetSchema();
    dst = await targetStateOf(target.query, schema, names);
    if (!dst.schema) throw new TenantMoveError(schema, 'target', `createTargetSchema() returned but the ${labels.target} has no schema "${schema}"`);
    checkSameTenant(schema, src.mark, dst.mark);
    await step('target-ready');
    await subscribe(source, target, schema, names, options.sourceConninfo);
    dst = await targetStateOf(target.query, schema, names);
    logger.log(`Moving schema "${schema}": subscribed, PostgreSQL is copying its tables to the ${labels.target}${sameServer ? ' (another database of the same server)' : ''}`);
    await step('subscribed');
  }
  await startCopy(target.query, schema, names, dst.subscriptionOid!);
  const timing = withDefaults(options.timing);
  const wait = { timeoutMs: timing.syncTimeoutMs, catchUpMs: timing.catchUpMs };
  await waitUntilSynced(source.query, target.query, schema, names, dst.subscriptionOid!, wait);
  await step('synced');

  let lastError: unknown;
  for (let attempt = 1; attempt <= timing.fenceAttempts; attempt++) {
    const fencedAt = performance.now();
    await options.fence();
    let parked: FenceOutcome;
    try {
      parked = await fenceAndPark(source, target, schema, names, { lockTimeoutMs: timing.fenceLockTimeoutMs, catchUpTimeoutMs: timing.catchUpTimeoutMs }, step);
    } catch (error) {
      await options.unfence();
      if (!isPassingFenceFailure(error)) throw error;
      lastError = error;
      logger.warn(`Moving schema "${schema}": fence attempt ${attempt} of ${timing.fenceAttempts} failed (${error instanceof Error ? error.message : String(error)}); the tenant runs on the source again`);
      await sleep(200 * attempt);
      await waitUntilSynced(source.query, target.query, schema, names, dst.subscriptionOid!, wait);
      continue;
    }
    await step('fence-committed');
    await switchRecord(options, schema, PARKED_AND_VERIFIED, step);
    const fencedMs = Math.round(performance.now() - fencedAt);
    const { lockMs, catchUpMs, verifyMs } = parked.breakdown;
    logger.log(`Moved schema "${schema}" (${parked.tables} table(s), ${parked.rows} row(s) verified); writes paused ${fencedMs} ms (locks ${lockMs}, catch-up ${catchUpMs}, sequences + verification + rename ${verifyMs})`);
    await cleanup();
    return { startedAt, fencedMs, fenceAttempts: attempt, ...parked };
  }
  throw new TenantMoveFenceError(schema, timing.fenceAttempts, lastError);
}

/** A schema on the target marked as another tenant's is never emptied. */
export function checkSameTenant(schema: string, sourceMark: string | undefined, targetMark: string | undefined): void {
  if (sourceMark !== undefined && targetMark !== undefined && sourceMark !== targetMark) throw new TenantMoveTargetConflictError(schema, sourceMark, targetMark);
}

/**
 * Empties the target's tables (rows seeded by migrations, or a copy interrupted before its subscription existed:
 * the record points at the source, so the target serves nothing), then publishes, creates the slot (after the
 * publication, which the slot's decoding must see) and subscribes. A slot left by an interrupted run is dropped
 * first; one this run created is dropped again if CREATE SUBSCRIPTION fails, so no slot holds the source's WAL.
 */
export async function subscribe(source: MoveSide, target: MoveSide, schema: string, names: MoveNames, conninfo: string): Promise<void> {
  await ensurePublication(source.query, schema, names);
  await dropSlot(source.query, names.subscription, schema);
  await createSlot(source.query, names.subscription);
  try {
    await createSubscription(target.query, names, conninfo);
  } catch (error) {
    await dropSlot(source.query, names.subscription, schema).catch((dropError: unknown) => {
      throw new TenantMoveError(schema, 'target', `CREATE SUBSCRIPTION failed, and dropping the slot "${names.subscription}" it was to use failed too (${String(dropError)}); a rerun drops it`, error);
    });
    throw error;
  }
}

export function withDefaults(timing: SchemaMoveTiming = {}): Required<SchemaMoveTiming> {
  return {
    syncTimeoutMs: timing.syncTimeoutMs ?? 30 * 60_000,
    catchUpMs: timing.catchUpMs ?? 500,
    fenceLockTimeoutMs: timing.fenceLockTimeoutMs ?? 1_000,
    catchUpTimeoutMs: timing.catchUpTimeoutMs ?? 3_000,
    fenceAttempts: timing.fenceAttempts ?? 5,
  };
}
