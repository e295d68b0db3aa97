import { Logger } from '@nestjs/common';
import { ownerFromComment } from '../storage-owner.js';
import { columnsOf, targetStateOf } from './move-catalog.js';
import { checkMovePossible } from './move-checks.js';
import { TenantMoveFenceAttemptError, isPassingFenceFailure } from './move-fence.js';
import { type MoveNames, moveNamesOf } from './move-names.js';
import {
  createSlot,
  createSubscription,
  currentLsn,
  dropSlot,
  dropSubscription,
  dropTableSyncSlots,
  ensureTenantPublication,
  sleep,
  startCopy,
  waitConfirmed,
  waitUntilSynced,
} from './move-replication.js';
import { raiseSequences } from './move-sequences.js';
import { type MoveQuery, type MoveSide, quoteIdent } from './move-sql.js';
import { type SchemaMoveReport, type SchemaMoveStep, type SchemaMoveTiming, withDefaults } from './schema-move.js';
import { type SharedTierRows, asTenant, deleteTenantRows, drainSince, liftFence, markFenced, tenantTablesOf } from './shared-tier-rows.js';
import { digestDifferences, tableDigests, targetDigests } from './table-digests.js';
import { TenantMoveError, TenantMoveFenceError, TenantMoveStateError, TenantMoveTargetConflictError, TenantMoveVerificationError } from './move.errors.js';
import { type MoveCallbacks, switchRecord } from './move-switch.js';
import { refuseEmptyCopy, refuseOtherMoveOfTenant } from './shared-tier-move-checks.js';

const RENAMED_AND_VERIFIED = "the tenant's schema on the target is verified";

export interface SharedTierMoveOptions extends MoveCallbacks {
  /** The tenant's rows in the shared tier (the source). */
  readonly rows: SharedTierRows;
  /** The database the tenant moves to (its server's tenant database, or a database of its own). */
  readonly target: MoveSide;
  /** The tenant's schema there: the staging schema (named like the shared tier's) is renamed to it under the fence. */
  readonly schema: string;
  readonly moveId: string;
  /** libpq connection string of the shared tier's database as the target server reaches it, carrying the tenant setting. */
  readonly sourceConninfo: string;
  /** Creates the staging schema in the target and applies the tenant's migrations to it as the tenant's; idempotent. */
  createStaging(): Promise<void>;
  /** Statements run in the rename's transaction, once the staging schema has the tenant schema's name. */
  afterRename(schema: string): readonly string[];
  readonly labels: { source: string; target: string };
}

/** What the target database shows of a move out of the shared tier. */
interface TargetShows {
  /** The tenant's schema (after the rename), and the tenant its mark names. */
  readonly own: boolean;
  readonly ownOwner: string | undefined;
  /** The staging schema, and the tenant its mark names. */
  readonly staging: boolean;
  readonly stagingOwner: string | undefined;
  readonly subscriptionOid: string | undefined;
}

/**
 * Moves a tenant's rows out of the shared tier into a schema of its own (schema tier, or the database tier's
 * database), on PostgreSQL's logical replication (docs/internals/mixed-tiers.md, section 4.6): a publication of the
 * tenant's rows only (row filter on the tenant column), copied into a staging schema of the target named like the
 * shared one (replication maps tables by schema-qualified name), then, under a fence that holds only this tenant's
 * writes (its mark in `nmt_fenced_tenant`: other tenants write on), caught up, verified and renamed to the tenant's
 * schema; the record is switched, then the tenant's rows leave the shared tables (its mark stays there, so an app
 * instance that missed the switch cannot write there). Every run derives where it is from the servers, so a rerun
 * after a crash at any step continues.
 */
export async function moveOutOfSharedTier(options: SharedTierMoveOptions): Promise<SchemaMoveReport> {
  const { rows, target, schema, labels } = options;
  const staging = rows.schema;
  const names = moveNamesOf(schema, options.moveId);
  const logger = options.logger ?? new Logger('TenantMove');
  const step = async (name: SchemaMoveStep) => void (await options.onStep?.(name));
  const finish = async (startedAt: SchemaMoveReport['startedAt']): Promise<SchemaMoveReport> => {
    await cleanUp(rows, target.query, names, logger);
    await step('done');
    return { startedAt, fencedMs: undefined, fenceAttempts: 0, tables: undefined, rows: undefined, breakdown: undefined };
  };

  if (await options.recordPointsAtTarget()) {
    await options.unfence();
    return finish('switched');
  }
  const tables = await tenantTablesOf(rows);
  let dst = await targetShows(target.query, schema, staging, names);
  if (dst.own) {
    if (dst.ownOwner !== undefined && dst.ownOwner !== rows.tenantId) throw new TenantMoveTargetConflictError(schema, rows.tenantId, dst.ownOwner);
    if (!dst.subscriptionOid) {
      throw new TenantMoveStateError(schema, `the ${labels.target} already has schema "${schema}" and no move of the tenant into it is under way: drop that schema (after checking what it holds), then rerun`);
    }
    // renamed by an earlier run, the record not switched: the fence mark still holds the tenant's writes
    logger.log(`Moving tenant schema "${schema}" out of the shared tier: renamed by an earlier run; verifying again, then switching`);
    await verifyCopy(rows, target, schema, tables);
    await switchRecord(options, schema, RENAMED_AND_VERIFIED, step);
    return finish('parked');
  }
  if (dst.staging && dst.stagingOwner !== undefined && dst.stagingOwner !== rows.tenantId) {
    throw new TenantMoveStateError(
      schema,
      `the ${labels.target} holds the staging schema "${staging}" of another tenant's move out of the shared tier ('${dst.stagingOwner}'): one such move into a database at a time. Finish that move (rerun it), then rerun this one`,
    );
  }

  const startedAt = dst.subscriptionOid ? 'subscribed' : 'new';
  if (!dst.subscriptionOid) {
    await refuseOtherMoveOfTenant(rows, names, schema);
    await checkMovePossible(rows.side.query, target.query, staging, labels);
    await options.createStaging();
    dst = await targetShows(target.query, schema, staging, names);
    if (!dst.staging) throw new TenantMoveError(schema, 'target', `createStaging() returned but the ${labels.target} has no schema "${staging}"`);
    await step('target-ready');
    await subscribe(rows, target.query, names, tables, options.sourceConninfo);
    dst = await targetShows(target.query, schema, staging, names);
    logger.log(`Moving tenant schema "${schema}" out of the shared tier: subscribed, PostgreSQL is copying its rows to the ${labels.target}`);
    await step('subscribed');
  }
  const subscriptionOid = dst.subscriptionOid!;
  await startCopy(target.query, staging, names, subscriptionOid, tables);
  const timing = withDefaults(options.timing);
  const wait = { timeoutMs: timing.syncTimeoutMs, catchUpMs: timing.catchUpMs };
  await waitUntilSynced(rows.side.query, target.query, schema, names, subscriptionOid, wait);
  await refuseEmptyCopy(rows, target.query, names, tables, schema);
  await step('synced');

  let lastError: unknown;
  for (let attempt = 1; attempt <= timing.fenceAttempts; attempt++) {
    const fencedAt = performance.now();
    await options.fence();
    let outcome: Awaited<ReturnType<typeof fenceAndRename>>;
    try {
      outcome = await fenceAndRename(options, names, tables, timing, step);
    } catch (error) {
      // nothing was renamed: the tenant writes to the shared tables again. A rename whose commit went through unseen
      // (its answer lost) keeps the mark: the rerun verifies the renamed schema and switches
      const renamed = await targetShows(target.query, schema, staging, names).then((shows) => shows.own, () => true);
      if (renamed) throw error;
      await liftFence(rows);
      await options.unfence();
      if (!isPassingFenceFailure(error)) throw error;
      lastError = error;
      logger.warn(`Moving tenant schema "${schema}" out of the shared tier: fence attempt ${attempt} of ${timing.fenceAttempts} failed (${error instanceof Error ? error.message : String(error)}); the tenant runs on the shared tier again`);
      await sleep(200 * attempt);
      await waitUntilSynced(rows.side.query, target.query, schema, names, subscriptionOid, wait);
      continue;
    }
    await step('fence-committed');
    await switchRecord(options, schema, RENAMED_AND_VERIFIED, step);
    const fencedMs = Math.round(performance.now() - fencedAt);
    const { lockMs, catchUpMs, verifyMs } = outcome.breakdown;
    logger.log(
      `Moved tenant schema "${schema}" out of the shared tier (${outcome.tables} table(s), ${outcome.rows} row(s) verified); its writes paused ${fencedMs} ms ` +
        `(mark and drain ${lockMs}, catch-up ${catchUpMs}, sequences + verification + rename ${verifyMs})`,
    );
    await cleanUp(rows, target.query, names, logger);
    await step('done');
    return { startedAt, fencedMs, fenceAttempts: attempt, ...outcome };
  }
  throw new TenantMoveFenceError(schema, timing.fenceAttempts, lastError);
}

async function targetShows(target: MoveQuery, schema: string, staging: string, names: MoveNames): Promise<TargetShows> {
  const own = await targetStateOf(target, schema, names);
  const stage = await targetStateOf(target, staging, names);
  return { own: own.schema, ownOwner: ownerFromComment(own.mark), staging: stage.schema, stagingOwner: ownerFromComment(stage.mark), subscriptionOid: own.subscriptionOid };
}

/** The row-filtered publication, the slot (dropped first if an interrupted run left it), the disabled subscription. */
async function subscribe(rows: SharedTierRows, target: MoveQuery, names: MoveNames, tables: readonly string[], conninfo: string): Promise<void> {
  const source = rows.side.query;
  await ensureTenantPublication(source, rows.schema, tables, { column: rows.column, value: rows.tenantId }, names);
  await dropSlot(source, names.subscription, rows.schema);
  await createSlot(source, names.subscription);
  try {
    await createSubscription(target, names, conninfo);
  } catch (error) {
    await dropSlot(source, names.subscription, rows.schema).catch((dropError: unknown) => {
      throw new TenantMoveError(rows.schema, 'target', `CREATE SUBSCRIPTION failed, and dropping the slot "${names.subscription}" it was to use failed too (${String(dropError)}); a rerun drops it`, error);
    });
    throw error;
  }
}

/**
 * The fence: the tenant's mark committed in the shared tier (its writes refused from then on, other tenants' go on),
 * its transactions that began before drained, the target waited for up to the shared database's current WAL
 * position, sequences raised, every table verified (the tenant's shared rows against the staging copy), then the
 * staging schema renamed to the tenant's in one transaction of the target. A failure before that rename leaves
 * the target unused (the caller lifts the mark).
 */
async function fenceAndRename(options: SharedTierMoveOptions, names: MoveNames, tables: readonly string[], timing: Required<SchemaMoveTiming>, step: (name: SchemaMoveStep) => Promise<void>) {
  const { rows, target, schema } = options;
  const begun = performance.now();
  const since = await markFenced(rows);
  await drainSince(rows, since, timing.fenceLockTimeoutMs);
  const markedAt = performance.now();
  await step('fence-locked');
  const lsn = await currentLsn(rows.side.query);
  if (!(await waitConfirmed(rows.side.query, names.subscription, lsn, timing.catchUpTimeoutMs))) {
    throw new TenantMoveFenceAttemptError(schema, `the target did not confirm the shared tier's position ${lsn} within ${timing.catchUpTimeoutMs} ms`);
  }
  const caughtUpAt = performance.now();
  await raiseSequences(rows.side.query, rows.schema, (fn) => target.transaction(fn), rows.schema);
  const verified = await verifyCopy(rows, target, rows.schema, tables);
  await step('fence-verified');
  await target.transaction(async (q) => {
    await q(`alter schema ${quoteIdent(rows.schema)} rename to ${quoteIdent(schema)}`);
    for (const statement of options.afterRename(schema)) await q(statement);
  });
  const ms = (from: number, to: number) => Math.round(to - from);
  return { tables: tables.length, rows: verified, breakdown: { lockMs: ms(begun, markedAt), catchUpMs: ms(markedAt, caughtUpAt), verifyMs: ms(caughtUpAt, performance.now()) } };
}

/** The tenant's rows of every shared table against the copy in `copySchema` of the target: count and checksum per table. */
async function verifyCopy(rows: SharedTierRows, target: MoveSide, copySchema: string, tables: readonly string[]): Promise<number> {
  return asTenant(rows, async (q) => {
    const all = await columnsOf(q, rows.schema);
    const columns = new Map(tables.map((t) => [t, all.get(t) ?? []]));
    const [shared, copy] = await Promise.all([
      tableDigests(q, rows.schema, columns, { column: rows.column, value: rows.tenantId }),
      target.transaction((t) => targetDigests(t, copySchema, columns)),
    ]);
    const differences = digestDifferences(shared, copy.digests, copy.missing);
    if (differences.length) throw new TenantMoveVerificationError(copySchema, differences);
    return [...shared.values()].reduce((sum, d) => sum + Number(d.rows), 0);
  });
}

/**
 * After the switch: the subscription, its slots and the publication, then the tenant's rows in the shared tables
 * (its fence mark stays: an app instance that has not heard of the switch gets 503 for a write there, never a
 * write that would be lost). Each part is idempotent, so a rerun finishes an interrupted cleanup.
 */
async function cleanUp(rows: SharedTierRows, target: MoveQuery, names: MoveNames, logger: Logger): Promise<void> {
  const source = rows.side.query;
  try {
    const { subscriptionOid } = await targetStateOf(target, rows.schema, names);
    await dropSubscription(target, names);
    await dropSlot(source, names.subscription, rows.schema);
    if (subscriptionOid) await dropTableSyncSlots(source, subscriptionOid, rows.schema);
    await source(`drop publication if exists ${quoteIdent(names.publication)}`);
    await markFenced(rows);
    const deleted = await deleteTenantRows(rows, await tenantTablesOf(rows));
    const counts = [...deleted].filter(([, n]) => n > 0).map(([t, n]) => `${t}: ${n}`);
    logger.log(`Moved a tenant out of the shared tier: its rows there are deleted (${counts.length ? counts.join(', ') : 'none left'}); the publication, subscription and slot are removed`);
  } catch (error) {
    if (error instanceof TenantMoveError) throw error;
    throw new TenantMoveError(rows.schema, 'cleanup', `the tenant runs on the target; removing what the move left (its shared rows, the replication objects) failed: rerun the move to finish the cleanup`, error);
  }
}
