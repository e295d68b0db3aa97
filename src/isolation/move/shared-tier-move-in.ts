import { Logger } from '@nestjs/common';
import { ownerFromComment } from '../storage-owner.js';
import { sourceStateOf, targetStateOf } from './move-catalog.js';
import { checkMovePossible } from './move-checks.js';
import { cleanUpMove } from './move-cleanup.js';
import { type FenceOutcome, type TargetDigestsOf, fenceAndPark, isPassingFenceFailure, verifyParked } from './move-fence.js';
import { type MoveNames, moveNamesOf } from './move-names.js';
import { copyStateOf, sleep, startCopy, waitUntilSynced } from './move-replication.js';
import { type MoveSide, quoteIdent } from './move-sql.js';
import { type SchemaMoveReport, type SchemaMoveStep, checkSameTenant, subscribe, withDefaults } from './schema-move.js';
import { mirrorTriggerSql } from './shared-tier-mirror.js';
import { type SharedTierRows, asTenant, deleteTenantRows, liftFence, markFenced, tenantTablesOf } from './shared-tier-rows.js';
import { tableDigests } from './table-digests.js';
import { TenantMoveError, TenantMoveFenceError, TenantMoveStateError } from './move.errors.js';
import { type MoveCallbacks, switchRecord } from './move-switch.js';

const PARKED_AND_VERIFIED = "the source is parked and the tenant's shared rows verified";

export interface IntoSharedTierOptions extends MoveCallbacks {
  /** The tenant's own schema's database (schema tier, or its database-tier database). */
  readonly source: MoveSide;
  /** The shared tier's database the tenant moves to, and the tenant there. */
  readonly rows: SharedTierRows;
  /** The tenant's schema: published on the source, and the staging schema's name in the shared tier's database. */
  readonly schema: string;
  readonly moveId: string;
  /** libpq connection string of the source database as the shared tier's server reaches it. */
  readonly sourceConninfo: string;
  /** Creates the staging schema in the shared tier's database and applies the tenant's migrations to it; idempotent. */
  createStaging(): Promise<void>;
  readonly labels: { source: string; target: string };
}

const EMPTY_REPORT = { fencedMs: undefined, fenceAttempts: 0, tables: undefined, rows: undefined, breakdown: undefined } as const;

/**
 * Moves a tenant from a schema of its own (schema or database tier) into the shared tier, on PostgreSQL's logical
 * replication (docs/internals/mixed-tiers.md, section 4.6): its fence mark in the shared tier first (nothing but the
 * move may write its rows there), a staging schema named like the tenant's in the shared tier's database, whose
 * ENABLE ALWAYS triggers mirror every copied and streamed row into the shared tables; then the usual fence on the
 * source (its tables locked, caught up, verified against the tenant's shared rows, renamed away), the record switched
 * and the mark lifted; the staging schema, the parked source and the replication objects removed last. Every run
 * derives where it is from the servers, so a rerun after a crash at any step continues.
 */
export async function moveIntoSharedTier(options: IntoSharedTierOptions): Promise<SchemaMoveReport> {
  const { source, rows, schema, labels } = options;
  const target = rows.side;
  const names = moveNamesOf(schema, options.moveId);
  const logger = options.logger ?? new Logger('TenantMove');
  const step = async (name: SchemaMoveStep) => void (await options.onStep?.(name));
  const tables = async () => tenantTablesOf(rows);
  const copyOf = sharedDigestsOf(rows, tables);
  const finish = async (startedAt: SchemaMoveReport['startedAt']): Promise<SchemaMoveReport> => {
    await cleanUp(options, names, logger);
    await step('done');
    return { startedAt, ...EMPTY_REPORT };
  };

  if (await options.recordPointsAtTarget()) {
    await liftFence(rows);
    await options.unfence();
    return finish('switched');
  }
  const src = await sourceStateOf(source.query, schema, names);
  if (src.original && src.parked) throw new TenantMoveStateError(schema, `the source has both "${schema}" and its parked copy "${names.parkedSchema}" (the schema was created again after a fence)`);
  if (src.parked) {
    logger.log(`Moving tenant schema "${schema}" into the shared tier: the source was parked by an earlier run; verifying again, then switching`);
    await verifyParked(source, target, schema, names, copyOf);
    await switchRecord(options, schema, PARKED_AND_VERIFIED, step, () => liftFence(rows));
    return finish('parked');
  }
  if (!src.original) throw new TenantMoveStateError(schema, `the schema exists on the source under neither "${schema}" nor "${names.parkedSchema}", and the record does not point at the shared tier`);

  let dst = await targetStateOf(target.query, schema, names);
  const startedAt = dst.subscriptionOid ? 'subscribed' : 'new';
  if (!dst.subscriptionOid) {
    await checkMovePossible(source.query, target.query, schema, labels);
    checkSameTenant(schema, src.mark, dst.mark);
    // first: from now on no app instance writes the tenant's rows into the shared tables, only the mirror does
    await markFenced(rows);
    await options.createStaging();
    dst = await targetStateOf(target.query, schema, names);
    if (!dst.schema) throw new TenantMoveError(schema, 'target', `createStaging() returned but the ${labels.target} has no schema "${schema}"`);
    checkSameTenant(schema, src.mark, dst.mark);
    const mirrored = await tables();
    const mirror = await mirrorTriggerSql(target.query, { staging: schema, shared: rows.schema, column: rows.column, setting: rows.setting, tenantId: rows.tenantId }, mirrored);
    await target.transaction(async (q) => {
      for (const statement of mirror) await q(statement);
    });
    await step('target-ready');
    await subscribe(source, target, schema, names, options.sourceConninfo);
    dst = await targetStateOf(target.query, schema, names);
    logger.log(`Moving tenant schema "${schema}" into the shared tier: subscribed, PostgreSQL is copying its tables to the ${labels.target}`);
    await step('subscribed');
  }
  const subscriptionOid = dst.subscriptionOid!;
  // a copy that never started may follow an earlier attempt's half copy: its rows in the shared tables go first
  const copy = await copyStateOf(target.query, subscriptionOid);
  if (copy && !copy.enabled && !copy.started) await deleteTenantRows(rows, await tables());
  await startCopy(target.query, schema, names, subscriptionOid);
  const timing = withDefaults(options.timing);
  const wait = { timeoutMs: timing.syncTimeoutMs, catchUpMs: timing.catchUpMs };
  await waitUntilSynced(source.query, target.query, schema, names, subscriptionOid, wait);
  await step('synced');

  let lastError: unknown;
  for (let attempt = 1; attempt <= timing.fenceAttempts; attempt++) {
    const fencedAt = performance.now();
    await options.fence();
    let parked: FenceOutcome;
    try {
      parked = await fenceAndPark(source, target, schema, names, { lockTimeoutMs: timing.fenceLockTimeoutMs, catchUpTimeoutMs: timing.catchUpTimeoutMs }, step, copyOf);
    } catch (error) {
      await options.unfence();
      if (!isPassingFenceFailure(error)) throw error;
      lastError = error;
      logger.warn(`Moving tenant schema "${schema}" into the shared tier: fence attempt ${attempt} of ${timing.fenceAttempts} failed (${error instanceof Error ? error.message : String(error)}); the tenant runs on its schema again`);
      await sleep(200 * attempt);
      await waitUntilSynced(source.query, target.query, schema, names, subscriptionOid, wait);
      continue;
    }
    await step('fence-committed');
    // the record says shared, then the tenant's mark there is lifted: its work goes on in the shared tier
    await switchRecord(options, schema, PARKED_AND_VERIFIED, step, () => liftFence(rows));
    const fencedMs = Math.round(performance.now() - fencedAt);
    logger.log(`Moved tenant schema "${schema}" into the shared tier (${parked.tables} table(s), ${parked.rows} row(s) verified); writes paused ${fencedMs} ms`);
    await cleanUp(options, names, logger);
    await step('done');
    return { startedAt, fencedMs, fenceAttempts: attempt, ...parked };
  }
  throw new TenantMoveFenceError(schema, timing.fenceAttempts, lastError);
}

/**
 * The tenant's rows of the shared tables, digested as the source's tables (same columns by name), read as the tenant.
 * Tables of the source that are no tenant tables (the migration log, the library's marks) have no shared rows to
 * compare and are left out; a tenant table missing from the shared tier is reported.
 */
function sharedDigestsOf(rows: SharedTierRows, tables: () => Promise<string[]>): TargetDigestsOf {
  return async (columns) => {
    const shared = new Set(await tables());
    const tenantTables = [...columns].filter(([t, cols]) => cols.includes(rows.column) && !rows.libraryTables.includes(t));
    const compared = new Map(tenantTables.filter(([t]) => shared.has(t)));
    const missing = tenantTables.filter(([t]) => !shared.has(t)).map(([t]) => t);
    const digests = await asTenant(rows, (q) => tableDigests(q, rows.schema, compared, { column: rows.column, value: rows.tenantId }));
    return { digests, missing };
  };
}

/** The replication objects and the parked source (cleanUpMove), then the staging schema in the shared tier's database. */
async function cleanUp(options: IntoSharedTierOptions, names: MoveNames, logger: Logger): Promise<void> {
  const { source, rows, schema } = options;
  await cleanUpMove(source.query, rows.side.query, schema, names);
  const staging = await targetStateOf(rows.side.query, schema, names);
  // never a schema of that name that another tenant's move made (its mark says whose)
  if (staging.schema && staging.mark !== undefined && ownerFromComment(staging.mark) !== rows.tenantId) {
    throw new TenantMoveStateError(schema, `the shared tier's database has a schema "${schema}" marked as another tenant's; it was left alone: check what it holds, drop it, then rerun`);
  }
  try {
    await rows.side.query(`drop schema if exists ${quoteIdent(schema)} cascade`);
  } catch (error) {
    throw new TenantMoveError(schema, 'cleanup', `the tenant runs on the shared tier; dropping the move's staging schema there failed: rerun the move to finish the cleanup`, error);
  }
  logger.log(`Moved tenant schema "${schema}" into the shared tier: its own copy, the staging schema, publication, subscription and slot are removed`);
}
