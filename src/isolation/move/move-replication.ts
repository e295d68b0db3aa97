import type { MoveNames } from './move-names.js';
import type { TenantRowsFilter } from './table-digests.js';
import { tablesOf } from './move-catalog.js';
import { type MoveQuery, qualified, quoteIdent } from './move-sql.js';
import { TenantMoveError, TenantMoveSyncTimeoutError } from './move.errors.js';

const POLL_MS = 50;
/** Table-copy errors (pg_stat_subscription_stats.sync_error_count) during one wait that stop the move. */
const SYNC_ERRORS_TO_STOP = 3;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishes every table of the schema, unless already published. The tables are named one by one: `FOR TABLES IN
 * SCHEMA` needs a superuser, `FOR TABLE` only the tables' owner (a managed PostgreSQL gives the app no superuser).
 * Tables created later are not added, and need not be: migrating a tenant while it moves is refused.
 */
export async function ensurePublication(source: MoveQuery, schema: string, names: MoveNames): Promise<void> {
  const [found] = await source(`select 1 from pg_publication where pubname = ?`, [names.publication]);
  if (found) return;
  const tables = await tablesOf(source, schema);
  const published = tables.length ? ` for table ${tables.map((t) => qualified(schema, t)).join(', ')}` : '';
  await source(`create publication ${quoteIdent(names.publication)}${published}`);
}

/**
 * Publishes one tenant's rows of the shared tier's tables (a row filter on its tenant column, which every shared
 * table's replica identity includes, so other tenants' updates and deletes go on), unless already published.
 */
export async function ensureTenantPublication(source: MoveQuery, schema: string, tables: readonly string[], rowsOf: TenantRowsFilter, names: MoveNames): Promise<void> {
  const [found] = await source(`select 1 from pg_publication where pubname = ?`, [names.publication]);
  if (found) return;
  if (!tables.length) throw new TenantMoveError(schema, 'check', `the shared tier has no tenant tables: migrate it first (mikro-tenancy migrate up)`);
  const filter = `where (${quoteIdent(rowsOf.column)} = ?)`;
  await source(`create publication ${quoteIdent(names.publication)} for table ${tables.map((t) => `${qualified(schema, t)} ${filter}`).join(', ')}`, tables.map(() => rowsOf.value));
}

/**
 * Drops a replication slot of the source once no walsender uses it (one stops shortly after its subscription is
 * disabled). A slot left by an interrupted subscribe is dropped the same way before subscribing again. Slot names
 * are cluster-wide: a slot of that name belonging to another database of the source's cluster is never touched.
 */
export async function dropSlot(source: MoveQuery, slot: string, schema: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await source<{ active: boolean; ours: boolean; database: string | null }>(
      `select active, database is not distinct from current_database() as ours, database from pg_replication_slots where slot_name = ?`,
      [slot],
    );
    if (!row) return;
    if (!row.ours) throw slotOfAnotherDatabase(schema, slot, row.database);
    if (!row.active) {
      await source(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ? and not active and database = current_database()`, [slot]);
      continue;
    }
    if (Date.now() > deadline) {
      throw new TenantMoveError(schema, 'cleanup', `the replication slot "${slot}" on the source is still in use after ${timeoutMs} ms. Stop the subscription that uses it, then rerun.`);
    }
    await sleep(POLL_MS);
  }
}

function slotOfAnotherDatabase(schema: string, slot: string, database: string | null): TenantMoveError {
  return new TenantMoveError(
    schema,
    'check',
    `the replication slot "${slot}" on the source's server belongs to ${database ? `database "${database}"` : 'no database (a physical slot)'}, not to the ` +
      `source database, and was left alone: another move uses the same move id (give moveIdFor() a targetKey naming the target server AND ` +
      `database), or the slot is stale (drop it with pg_drop_replication_slot), then rerun`,
  );
}

/**
 * The move's logical slot on the source, created BEFORE the subscription: creating a slot waits until every
 * transaction running on the source's server has ended, and when the target is a database of the same server
 * CREATE SUBSCRIPTION ... (create_slot = true) would wait for its own transaction, forever (PostgreSQL's
 * documented restriction). One code path for both cases. Transactions running on the source's server, in any
 * database, delay this step until they end.
 */
export async function createSlot(source: MoveQuery, slot: string): Promise<void> {
  await source(`select pg_create_logical_replication_slot(?, 'pgoutput')`, [slot]);
}

/**
 * The subscription on the target: PostgreSQL copies every table (copy_data) then streams the changes, from the
 * slot createSlot() made (it has the subscription's name). The table-sync workers still create (and drop) their
 * own temporary slots on the source, from their own sessions: no wait on this statement's transaction.
 */
export async function createSubscription(target: MoveQuery, names: MoveNames, sourceConninfo: string): Promise<void> {
  await target(
    `create subscription ${quoteIdent(names.subscription)} connection ? publication ${quoteIdent(names.publication)} ` +
      `with (copy_data = true, create_slot = false, enabled = false, slot_name = ?, synchronous_commit = 'off')`,
    [sourceConninfo, names.subscription],
  );
}

/**
 * Starts the copy of a subscription created disabled: the target's tables are emptied (rows seeded by migrations)
 * only now, once CREATE SUBSCRIPTION has succeeded. Emptying them earlier, their migration log included, left a
 * target that a rerun could not migrate again ("relation ... already exists") whenever CREATE SUBSCRIPTION failed
 * (a missing right, a wrong connection string). A disabled subscription that copied something (disabled by hand) is
 * only enabled again. `published`: the tables the subscription fills, when not every table of the schema.
 */
export async function startCopy(target: MoveQuery, schema: string, names: MoveNames, subscriptionOid: string, published?: readonly string[]): Promise<void> {
  const row = await copyStateOf(target, subscriptionOid);
  if (!row || row.enabled) return;
  if (!row.started) {
    const tables = published ?? (await tablesOf(target, schema));
    if (tables.length) await target(`truncate table ${tables.map((t) => qualified(schema, t)).join(', ')}`);
  }
  await target(`alter subscription ${quoteIdent(names.subscription)} enable`);
}

/** Whether a subscription is enabled, and whether its copy ever started (a table past 'i', initialising). */
export async function copyStateOf(target: MoveQuery, subscriptionOid: string): Promise<{ enabled: boolean; started: boolean } | undefined> {
  const [row] = await target<{ enabled: boolean; started: boolean }>(
    `select subenabled as enabled, exists(select 1 from pg_subscription_rel where srsubid = s.oid and srsubstate <> 'i') as started from pg_subscription s where s.oid = ?::oid`,
    [subscriptionOid],
  );
  return row;
}

/** How many tables of the subscription are not yet 'r' (ready: copied and caught up), and how many in all. */
export async function syncProgress(target: MoveQuery, subscriptionOid: string): Promise<{ pending: number; tables: number; errors: number }> {
  const [row] = await target<{ pending: string; tables: string; errors: string }>(
    `select count(*) filter (where srsubstate <> 'r')::text as pending, count(*)::text as tables,
            coalesce((select (apply_error_count + sync_error_count)::text from pg_stat_subscription_stats where subid = ?::oid), '0') as errors
       from pg_subscription_rel where srsubid = ?::oid`,
    [subscriptionOid, subscriptionOid],
  );
  return { pending: Number(row?.pending), tables: Number(row?.tables), errors: Number(row?.errors) };
}

/**
 * The source's current WAL insert position: every transaction committed before it is below it. Not
 * pg_current_wal_lsn(), the *write* position, which lags behind commits made with synchronous_commit = off.
 */
export async function currentLsn(source: MoveQuery): Promise<string> {
  const [row] = await source<{ lsn: string }>(`select pg_current_wal_insert_lsn()::text as lsn`);
  return row!.lsn;
}

/**
 * Waits until the target has confirmed (applied and flushed: the slot's confirmed_flush_lsn) everything up to
 * `lsn`; false on timeout. Read on the source, so it works inside the fence transaction too.
 */
export async function waitConfirmed(source: MoveQuery, slot: string, lsn: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await source<{ done: boolean }>(`select confirmed_flush_lsn >= ?::pg_lsn as done from pg_replication_slots where slot_name = ?`, [lsn, slot]);
    if (row?.done) return true;
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS / 5);
  }
}

export interface SyncWait {
  /** Gives up after this long (the copy keeps going; a rerun continues). */
  readonly timeoutMs: number;
  /** The fence is taken only once a catch-up probe (current LSN confirmed) takes less than this. */
  readonly catchUpMs: number;
}

/** Waits for the initial copy of every table, then until the target keeps up closely enough to fence. */
export async function waitUntilSynced(source: MoveQuery, target: MoveQuery, schema: string, names: MoveNames, subscriptionOid: string, wait: SyncWait): Promise<void> {
  const deadline = Date.now() + wait.timeoutMs;
  let progress = await syncProgress(target, subscriptionOid);
  const errorsBefore = progress.errors;
  while (progress.pending > 0 || progress.tables === 0) {
    if (Date.now() > deadline) {
      throw new TenantMoveSyncTimeoutError(schema, `${progress.pending} of ${progress.tables} table(s) still copying after ${wait.timeoutMs} ms, ${progress.errors} worker error(s)`);
    }
    // a copy that keeps failing (PostgreSQL retries it every wal_retrieve_retry_interval, 5 s by default) never
    // finishes by itself: say so instead of waiting for the timeout (30 min by default)
    if (progress.errors - errorsBefore >= SYNC_ERRORS_TO_STOP) {
      throw new TenantMoveError(
        schema,
        'sync',
        `the copy of ${progress.pending} of ${progress.tables} table(s) failed ${progress.errors - errorsBefore} time(s) on the target (pg_stat_subscription_stats); ` +
          `the target server's log says why, e.g. the role of the connection string may not read the tenant's tables on the source (it needs SELECT on them). ` +
          `Fix it, then rerun the move: it goes on from the subscription`,
      );
    }
    await sleep(POLL_MS * 2);
    progress = await syncProgress(target, subscriptionOid);
  }
  // from now on the target flushes each applied transaction at once, so the slot's confirmed position (what the
  // fence waits for) follows within milliseconds instead of the WAL writer's delay; applied without a restart
  await target(`alter subscription ${quoteIdent(names.subscription)} set (synchronous_commit = 'on')`);
  for (;;) {
    const started = Date.now();
    const caughtUp = await waitConfirmed(source, names.subscription, await currentLsn(source), Math.max(0, deadline - started));
    if (!caughtUp) throw new TenantMoveSyncTimeoutError(schema, `every table is copied but the changes still lag after ${wait.timeoutMs} ms`);
    if (Date.now() - started <= wait.catchUpMs) return;
  }
}

/**
 * Removes the subscription without letting it reach the source (the slot is dropped there by `dropSlot`), so the
 * cleanup works the same whatever the source's state. Idempotent.
 */
export async function dropSubscription(target: MoveQuery, names: MoveNames): Promise<void> {
  const [sub] = await target(`select 1 from pg_subscription where subname = ? and subdbid = (select oid from pg_database where datname = current_database())`, [names.subscription]);
  if (!sub) return;
  const name = quoteIdent(names.subscription);
  await target(`alter subscription ${name} disable`);
  await target(`alter subscription ${name} set (slot_name = none)`);
  await target(`drop subscription ${name}`);
}

/** Slots the initial copy made for each table (pg_<suboid>_sync_<relid>_<sysid>) and did not drop (interrupted copy). */
export async function dropTableSyncSlots(source: MoveQuery, subscriptionOid: string, schema: string): Promise<void> {
  const rows = await source<{ slot: string }>(`select slot_name as slot from pg_replication_slots where starts_with(slot_name, ?)`, [`pg_${subscriptionOid}_sync_`]);
  for (const { slot } of rows) await dropSlot(source, slot, schema);
}
