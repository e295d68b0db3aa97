import type { Transaction } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { StorageOwner } from '../storage-owner.js';
import type { TenantProvisioning } from '../tenant-isolation.js';
import { sqlStateOf } from '../../errors/sql-state.js';

const FOREIGN_KEY_VIOLATION = '23503';

/** Rows deleted per statement when a tenant is dropped: short transactions, so requests of other tenants never wait long. */
const DROP_BATCH_ROWS = 5_000;

/** What table provisioning needs of TableIsolation. */
interface SharedTables {
  /** The tables that hold a tenant column, children before parents (delete order), quoted, with that column. */
  tenantTables(): { table: string; column: string }[];
  /** Runs `fn` in a transaction that carries the tenant's setting (row-level security shows it only its rows). */
  asTenant<R>(tenantId: string, fn: (execute: (sql: string, params: unknown[], method?: 'all' | 'run') => Promise<unknown>, trx: Transaction) => Promise<R>): Promise<R>;
  forgetTenant(tenantId: string): Promise<void>;
}

/**
 * Table mode: a tenant's data is its rows in the shared tables. Creating one makes nothing (the tables exist once
 * the tenant migrations ran); dropping one deletes its rows, table by table, in batches of DROP_BATCH_ROWS, each
 * batch its own transaction: a drop that stops half-way is resumed by calling it again (`drop` is idempotent), and
 * the log says how many rows went from which table.
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
      const values = all.map(() => '(?)').join(', ');
      const existing = (await execute(`select t from (values ${values}) v(t) where to_regclass(t) is not null`, all.map((t) => t.table))) as { t: string }[];
      const tables = all.filter(({ table }) => existing.some((e) => e.t === table));
      if (tables.length === 0) return false;
      const any = tables.map(({ table, column }) => `select 1 from ${table} where ${column} = ?`).join(' union all ');
      return ((await execute(`select exists (${any}) as found`, tables.map(() => record.id))) as { found: boolean }[])[0]?.found === true;
    });
    return found ? { exists: true, owner: record.id } : { exists: false };
  }

  async create(): Promise<void> {
    // the shared tables are made by the tenant migrations, once for every tenant
  }

  async drop(record: T): Promise<void> {
    await this.tables.forgetTenant(record.id);
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

