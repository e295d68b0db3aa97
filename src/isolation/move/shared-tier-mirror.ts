import { columnsOf } from './move-catalog.js';
import { type MoveQuery, qualified, quoteIdent } from './move-sql.js';

/** What the mirror triggers of a move into the shared tier need to know. */
export interface MirrorTarget {
  /** The staging schema in the shared tier's database (named like the tenant's schema: replication applies there). */
  readonly staging: string;
  /** The shared tier's schema (`nmt_shared`) and the tenant column, setting and id. */
  readonly shared: string;
  readonly column: string;
  readonly setting: string;
  readonly tenantId: string;
}

/**
 * The statements that make every table of the staging schema mirror each row change into the shared table of the
 * same name: an AFTER row trigger per table, ENABLE ALWAYS so it fires in the subscription's apply and table-sync
 * workers (which run as `session_replication_role = replica`, where ordinary triggers, foreign key checks and the
 * fence trigger do not fire). Each function sets the tenant's setting first, so the shared tables' forced row-level
 * security lets the rows through whatever role applies them (PostgreSQL 16+ applies as the table owner). Updates and
 * deletes find the shared row by its primary key and tenant. Columns are named one by one, so the two tables' column
 * order does not matter. A row whose tenant column names another tenant (a source written with a role that bypasses
 * row-level security) stops the copy (42501) instead of landing as that tenant's. The staging tables keep their own copy: the apply worker looks rows up in them.
 */
export async function mirrorTriggerSql(query: MoveQuery, target: MirrorTarget, tables: readonly string[]): Promise<string[]> {
  const columns = await columnsOf(query, target.staging);
  const keys = await primaryKeysOf(query, target.staging);
  const { generated, alwaysIdentity } = await specialColumnsOf(query, target.staging);
  const statements: string[] = [];
  tables.forEach((table, index) => {
    // stored generated columns are computed by the shared table itself; GENERATED ALWAYS identities take the copied
    // value on insert (overriding system value) and are never set by an update
    const cols = (columns.get(table) ?? []).filter((c) => !generated.has(`${table}.${c}`));
    const updatable = cols.filter((c) => !alwaysIdentity.has(`${table}.${c}`));
    const key = keys.get(table) ?? [];
    if (!cols.length || !key.length) throw new RangeError(`table ${target.staging}.${table} has no columns or no primary key to mirror by`);
    const fn = `${quoteIdent(target.staging)}.${quoteIdent(`nmt_mirror_${index + 1}`)}`;
    const into = qualified(target.shared, table);
    const match = [...key, target.column].filter((c, i, all) => all.indexOf(c) === i).map((c) => `s.${quoteIdent(c)} = old.${quoteIdent(c)}`).join(' and ');
    statements.push(
      `create or replace function ${fn}() returns trigger language plpgsql as $nmt$ begin ` +
        `perform set_config(${literal(target.setting)}, ${literal(target.tenantId)}, true); ` +
        `if tg_op <> 'DELETE' and new.${quoteIdent(target.column)}::text is distinct from ${literal(target.tenantId)} then ` +
        `raise exception 'a row of another tenant reached the move of this tenant into the shared tier (%)', tg_table_name using errcode = '42501'; end if; ` +
        `if tg_op = 'INSERT' then insert into ${into} (${cols.map(quoteIdent).join(', ')}) overriding system value values (${cols.map((c) => `new.${quoteIdent(c)}`).join(', ')}); ` +
        `elsif tg_op = 'UPDATE' then update ${into} s set ${updatable.map((c) => `${quoteIdent(c)} = new.${quoteIdent(c)}`).join(', ')} where ${match}; ` +
        `else delete from ${into} s where ${match}; end if; return null; end $nmt$`,
      `drop trigger if exists nmt_mirror on ${qualified(target.staging, table)}`,
      `create trigger nmt_mirror after insert or update or delete on ${qualified(target.staging, table)} for each row execute function ${fn}()`,
      `alter table ${qualified(target.staging, table)} enable always trigger nmt_mirror`,
    );
  });
  return statements;
}

/** Stored generated columns and GENERATED ALWAYS identity columns, as `table.column`. */
async function specialColumnsOf(query: MoveQuery, schema: string): Promise<{ generated: Set<string>; alwaysIdentity: Set<string> }> {
  const rows = await query<{ t: string; c: string; generated: boolean }>(
    `select c.relname as t, a.attname as c, a.attgenerated <> '' as generated from pg_attribute a join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ? and a.attnum > 0 and not a.attisdropped and (a.attgenerated <> '' or a.attidentity = 'a')`,
    [schema],
  );
  const generated = new Set(rows.filter((r) => r.generated).map((r) => `${r.t}.${r.c}`));
  return { generated, alwaysIdentity: new Set(rows.filter((r) => !r.generated).map((r) => `${r.t}.${r.c}`)) };
}

/** Each table's primary key columns, in key order. */
async function primaryKeysOf(query: MoveQuery, schema: string): Promise<Map<string, string[]>> {
  const rows = await query<{ t: string; c: string }>(
    `select c.relname as t, a.attname as c from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
       cross join lateral unnest(i.indkey) with ordinality k(attnum, pos) join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
      where n.nspname = ? and i.indisprimary order by c.relname, k.pos`,
    [schema],
  );
  const keys = new Map<string, string[]>();
  for (const { t, c } of rows) keys.set(t, [...(keys.get(t) ?? []), c]);
  return keys;
}

function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
