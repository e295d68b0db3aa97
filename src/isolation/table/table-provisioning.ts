import type { Transaction } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { StorageOwner } from '../storage-owner.js';
import type { TenantProvisioning } from '../tenant-isolation.js';
import { sqlStateOf } from '../../errors/sql-state.js';
import { TenantDropUnfinishedError } from '../../errors/isolation.errors.js';
import { dropAfterDraining } from '../drain-sessions.js';
import { DROPPED_TENANT_TABLE } from './dropped-tenant.entity.js';
import { FENCED_TENANT_TABLE } from '../schema/fenced-tenant.entity.js';

const FOREIGN_KEY_VIOLATION = '23503';

/** Rows deleted per statement when a tenant is dropped: short transactions, so requests of other tenants never wait long. */
const DROP_BATCH_ROWS = 5_000;

type Execute = (sql: string, params: unknown[], method?: 'all' | 'run') => Promise<unknown>;

/** What table provisioning needs of TableIsolation. */
interface SharedTables {
  /** The application_name a tenant's transactions carry while they run (how its sessions are found). */
  sessionTagOf(tenantId: string): string;
  /** The tables that hold a tenant column, children before parents (delete order), quoted, with that column. */
  tenantTables(): { table: string; column: string }[];
  /** Runs `fn` in a transaction that carries the tenant's setting (row-level security shows it only its rows). */
  asTenant<R>(tenantId: string, fn: (execute: Execute, trx: Transaction) => Promise<R>): Promise<R>;
  forgetTenant(tenantId: string): Promise<void>;
}

/**
 * Table mode: a tenant's data is its rows in the shared tables. Creating one makes nothing (the tables exist once
 * the tenant migrations ran); dropping one marks it dropped, ends its work, then deletes its rows, table by table, in
 * batches of DROP_BATCH_ROWS, each batch its own transaction: a drop that stops half-way is resumed by calling it
 * again (`drop` is idempotent), and the log says how many rows went from which table.
 */
export class TableProvisioning<T extends TenantRecord> implements TenantProvisioning<T> {
  constructor(
    private readonly tables: SharedTables,
    private readonly logger: Logger,
  ) {}

  nameOf(record: T): string {
    return `rows of tenant '${record.id}'`;
  }

  async ownerOf(record: T): Promise<StorageOwner> {
    const found = await this.tables.asTenant(record.id, async (execute) => {
      // before the first tenant migration, the shared tables do not exist yet
      const all = this.tables.tenantTables();
      if (all.length === 0) return false;
      const existing = await this.existingTables(execute, all.map((t) => t.table));
      const tables = all.filter(({ table }) => existing.includes(table));
      if (tables.length === 0) return false;
      const any = tables.map(({ table, column }) => `select 1 from ${table} where ${column} = ?`).join(' union all ');
      return ((await execute(`select exists (${any}) as found`, tables.map(() => record.id))) as { found: boolean }[])[0]?.found === true;
    });
    return found ? { exists: true, owner: record.id } : { exists: false };
  }

  /** Which of these (quoted) tables exist: before the first tenant migration, none does. */
  private async existingTables(execute: Execute, tables: string[]): Promise<string[]> {
    if (tables.length === 0) return [];
    const values = tables.map(() => '(?)').join(', ');
    return ((await execute(`select t from (values ${values}) v(t) where to_regclass(t) is not null`, tables)) as { t: string }[]).map((r) => r.t);
  }

  /**
   * Whether a move between tiers has objects in this database (its publication or subscription): `create` of a
   * registered tenant may run while it moves, and must not lift the mark that holds its writes.
   */
  private async moveUnderWay(execute: Execute): Promise<boolean> {
    const rows = (await execute(
      `select 1 from pg_publication where pubname like 'nmt\\_move\\_%' union all select 1 from pg_subscription where subname like 'nmt\\_move\\_%' and subdbid = (select oid from pg_database where datname = current_database())`,
      [],
    )) as unknown[];
    return rows.length > 0;
  }

  private async tablesExist(execute: Execute): Promise<boolean> {
    return (await this.existingTables(execute, [DROPPED_TENANT_TABLE])).length > 0;
  }

  async create(): Promise<void> {
    // the shared tables are made by the tenant migrations, once for every tenant
  }

  /**
   * A tenant of a dropped id starts clean: the drop's mark is lifted, unless rows of the dropped tenant remain. In
   * the shared tier, so is the fence mark a move out of it leaves (the tenant of that id lived elsewhere since).
   */
  async beforeCreate(record: T): Promise<void> {
    const marked = await this.tables.asTenant(record.id, async (execute) => {
      if (!(await this.tablesExist(execute))) return false;
      if ((await this.existingTables(execute, [FENCED_TENANT_TABLE])).length && !(await this.moveUnderWay(execute))) {
        await execute(`delete from ${FENCED_TENANT_TABLE} where tenant_id = ?`, [record.id], 'run');
      }
      return ((await execute(`select 1 from ${DROPPED_TENANT_TABLE} where tenant_id = ?`, [record.id])) as unknown[]).length > 0;
    });
    if (!marked) return;
    if ((await this.ownerOf(record)).exists) throw new TenantDropUnfinishedError(record.id);
    await this.tables.asTenant(record.id, (execute) => execute(`delete from ${DROPPED_TENANT_TABLE} where tenant_id = ?`, [record.id], 'run'));
  }

  /**
   * 1. marks the tenant dropped (committed first: from then on every write of it fails the tables' policies, on any
   *    app instance); 2. waits until no transaction of the tenant runs (found by its application_name tag) or
   *    `drainUntil` passes, then ends those left; 3. deletes its rows (see deleteRows).
   */
  async drop(record: T, options: { drainUntil?: number } = {}): Promise<void> {
    await this.tables.forgetTenant(record.id);
    await this.tables.asTenant(record.id, (execute) => execute(`insert into ${DROPPED_TENANT_TABLE} (tenant_id) values (?) on conflict do nothing`, [record.id], 'run'));
    const tag = this.tables.sessionTagOf(record.id);
    const others = `select pid from pg_stat_activity where application_name = ? and datname = current_database() and pid <> pg_backend_pid()`;
    const sessions = {
      count: async () => ((await this.tables.asTenant(record.id, (execute) => execute(others, [tag]))) as unknown[]).length,
      end: async () => ((await this.tables.asTenant(record.id, (execute) => execute(`select pg_terminate_backend(pid) from (${others}) s`, [tag]))) as unknown[]).length,
    };
    await dropAfterDraining(sessions, () => this.deleteRows(record), options.drainUntil ?? 0, this.logger, `the rows of tenant '${record.id}'`);
  }

  /** Deletes the tenant's rows, table by table (children first), in batches of DROP_BATCH_ROWS, each its own transaction. */
  private async deleteRows(record: T): Promise<void> {
    const deleted: string[] = [];
    for (const { table, column } of this.tables.tenantTables()) {
      let total = 0;
      for (;;) {
        const batch = `delete from ${table} where ctid in (select ctid from ${table} where ${column} = ? limit ${DROP_BATCH_ROWS})`;
        const deleteIn = (sql: string) => this.tables.asTenant(record.id, (execute) => execute(sql, [record.id], 'run')) as Promise<{ affectedRows: number }>;
        // a table that references itself (a parent row) may need its rows gone in one statement: foreign keys are
        // checked at its end, so a batch that takes a parent but not its child fails where the whole set does not
        const result = await deleteIn(batch).catch((error: unknown) => {
          if (sqlStateOf(error) !== FOREIGN_KEY_VIOLATION) throw error;
          return deleteIn(`delete from ${table} where ${column} = ?`);
        });
        total += result.affectedRows;
        if (result.affectedRows < DROP_BATCH_ROWS) break;
      }
      if (total > 0) deleted.push(`${table}: ${total}`);
    }
    this.logger.log(`Tenant '${record.id}': deleted its rows from the shared tables (${deleted.length ? deleted.join(', ') : 'none left'})`);
  }
}

