import { sqlStateOf } from '../../errors/sql-state.js';
import { SIGNALABLE_SESSION_SQL } from '../drain-sessions.js';
import { type MoveQuery, type MoveSide, qualified, quoteIdent } from './move-sql.js';
import { sleep } from './move-replication.js';
import { TenantMoveError } from './move.errors.js';

/** One tenant's rows in the shared tier's tables, as a move reads and fences them (on the shared tier's database). */
export interface SharedTierRows {
  readonly side: MoveSide;
  readonly tenantId: string;
  /** The shared tier's schema (`nmt_shared`). */
  readonly schema: string;
  /** The tenant column and the setting row-level security reads (tenancy.sharedTier). */
  readonly column: string;
  readonly setting: string;
  /** The fence table (`nmt_fenced_tenant`) and the library's other tables without tenant rows to move. */
  readonly fenceTable: string;
  readonly libraryTables: readonly string[];
  /** The application_name the tenant's transactions carry while they run. */
  readonly sessionTag: string;
  /** The fence trigger's cleanup setting (FENCE_CLEANUP_SETTING). */
  readonly cleanupSetting: string;
}

const FOREIGN_KEY_VIOLATION = '23503';
const DELETE_BATCH_ROWS = 5_000;
const POLL_MS = 50;

/**
 * Runs `fn` in a transaction of the shared tier's database that carries the tenant's setting: the tables' forced
 * row-level security shows the mover the tenant's rows, and lets it write the tenant's fence mark, whatever its role.
 */
export function asTenant<R>(rows: SharedTierRows, fn: (q: MoveQuery) => Promise<R>): Promise<R> {
  return rows.side.transaction(async (q) => {
    await q(`select set_config(?, ?, true)`, [rows.setting, rows.tenantId]);
    return fn(q);
  });
}

/** The shared tables that hold tenant rows (a tenant column, not a library table), by name. */
export async function tenantTablesOf(rows: SharedTierRows): Promise<string[]> {
  const found = await rows.side.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ? and c.relkind in ('r', 'p')
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = ? and not a.attisdropped)
      order by c.relname`,
    [rows.schema, rows.column],
  );
  return found.map((r) => r.name).filter((name) => !rows.libraryTables.includes(name));
}

/** Whether any shared table still has a row of the tenant. */
export async function holdsTenantRows(rows: SharedTierRows): Promise<boolean> {
  const tables = await tenantTablesOf(rows);
  if (!tables.length) return false;
  const any = tables.map((t) => `select 1 from ${qualified(rows.schema, t)} where ${quoteIdent(rows.column)} = ?`).join(' union all ');
  return asTenant(rows, async (q) => (await q<{ found: boolean }>(`select exists (${any}) as found`, tables.map(() => rows.tenantId)))[0]?.found === true);
}

/**
 * Commits the tenant's fence mark: from then on the tables' fence trigger refuses every insert, update and delete of
 * its rows (SQLSTATE 55000), from any session of any app instance; other tenants write on. Returns the server's
 * clock right after the commit: transactions of the tenant that began before it may not see the mark (drainSince).
 */
export async function markFenced(rows: SharedTierRows): Promise<string> {
  await asTenant(rows, (q) => q(`insert into ${qualified(rows.schema, rows.fenceTable)} ("tenant_id") values (?) on conflict do nothing`, [rows.tenantId]));
  const [row] = await rows.side.query<{ now: string }>(`select clock_timestamp()::text as now`);
  return row!.now;
}

/** Lifts the tenant's fence mark: its writes go to the shared tables again (a move that gave up before the rename). */
export async function liftFence(rows: SharedTierRows): Promise<void> {
  await asTenant(rows, (q) => q(`delete from ${qualified(rows.schema, rows.fenceTable)} where "tenant_id" = ?`, [rows.tenantId]));
}

/**
 * Waits until no transaction of the tenant that began before `since` runs on the shared database (found by its
 * application_name tag), then ends those left after `timeoutMs`: such a transaction (READ COMMITTED statement under
 * way, or an older REPEATABLE READ snapshot) may not see the mark, and a write it makes after the catch-up would be
 * lost. Returns how many were ended.
 */
export async function drainSince(rows: SharedTierRows, since: string, timeoutMs: number): Promise<number> {
  // xact_start of another role's session reads null without pg_read_all_stats: such a tagged session (the tag is
  // transaction-local, so it is in a transaction) counts as begun before the mark
  const running =
    `select a.pid from pg_stat_activity a where a.application_name = ? and a.datname = current_database() and a.pid <> pg_backend_pid() ` +
    `and (a.xact_start is null or a.xact_start <= ?::timestamptz)`;
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (Date.now() < deadline) {
    // twice quiet in a row: a transaction whose first statement (which sets the tag) was under way at the mark shows
    // its tag only once that statement ends
    if ((await rows.side.query(running, [rows.sessionTag, since])).length === 0) {
      if (++quiet === 2) return 0;
    } else quiet = 0;
    await sleep(POLL_MS);
  }
  const ended = await rows.side.query(`select pg_terminate_backend(s.pid) from (${running}) s join pg_stat_activity a on a.pid = s.pid where ${SIGNALABLE_SESSION_SQL}`, [rows.sessionTag, since]);
  const left = await rows.side.query(running, [rows.sessionTag, since]);
  if (left.length) {
    throw new TenantMoveError(rows.schema, 'fence', `${left.length} transaction(s) of the tenant that began before its fence mark still run on the shared tier and this role may not end them; grant it pg_signal_backend, or end them, then rerun`);
  }
  return ended.length;
}

/**
 * Deletes the tenant's rows from the shared tables once it lives elsewhere, in batches of DELETE_BATCH_ROWS (short
 * transactions: other tenants' writes never wait long), under the fence's cleanup setting (the mark stays). A table
 * whose rows others still reference (a foreign key) is taken again after the others; a table referencing itself
 * loses the tenant's rows in one statement. Idempotent. Returns rows deleted per table.
 */
export async function deleteTenantRows(rows: SharedTierRows, tables: readonly string[]): Promise<Map<string, number>> {
  const deleted = new Map<string, number>();
  let pending = [...tables];
  while (pending.length) {
    const blocked: string[] = [];
    for (const table of pending) {
      const done = await deleteFrom(rows, table).catch((error: unknown) => {
        if (sqlStateOf(error) !== FOREIGN_KEY_VIOLATION) throw error;
        blocked.push(table);
        return 0;
      });
      deleted.set(table, (deleted.get(table) ?? 0) + done);
    }
    if (blocked.length === pending.length) {
      // no table could lose its rows in batches: each one's whole set at once (a self reference), else the error
      for (const table of blocked) deleted.set(table, (deleted.get(table) ?? 0) + (await deleteBatch(rows, table, false)));
      return deleted;
    }
    pending = blocked;
  }
  return deleted;
}

async function deleteFrom(rows: SharedTierRows, table: string): Promise<number> {
  let total = 0;
  for (;;) {
    const affected = await deleteBatch(rows, table, true);
    total += affected;
    if (affected < DELETE_BATCH_ROWS) return total;
  }
}

async function deleteBatch(rows: SharedTierRows, table: string, batched: boolean): Promise<number> {
  const name = qualified(rows.schema, table);
  const column = quoteIdent(rows.column);
  const where = batched ? `ctid in (select ctid from ${name} where ${column} = ? limit ${DELETE_BATCH_ROWS})` : `${column} = ?`;
  return asTenant(rows, async (q) => {
    await q(`select set_config(?, ?, true)`, [rows.cleanupSetting, rows.tenantId]);
    const [row] = await q<{ n: string }>(`with gone as (delete from ${name} where ${where} returning 1) select count(*)::text as n from gone`, [rows.tenantId]);
    return Number(row?.n ?? 0);
  });
}
