import type { MoveQuery } from './move-sql.js';
import type { MoveNames } from './move-names.js';

/** What one server shows of a move; every decision of a (re)run is derived from this, no state file. */
export interface SourceState {
  readonly original: boolean;
  readonly parked: boolean;
  readonly publication: boolean;
  readonly slot: boolean;
  readonly mark: string | undefined;
}

export interface TargetState {
  readonly schema: boolean;
  readonly mark: string | undefined;
  /** The subscription's oid, when it exists. */
  readonly subscriptionOid: string | undefined;
}

export async function sourceStateOf(query: MoveQuery, schema: string, names: MoveNames): Promise<SourceState> {
  const [row] = await query<{ original: boolean; parked: boolean; publication: boolean; slot: boolean; mark: string | null }>(
    `select exists(select 1 from pg_namespace where nspname = ?) as original,
            exists(select 1 from pg_namespace where nspname = ?) as parked,
            exists(select 1 from pg_publication where pubname = ?) as publication,
            exists(select 1 from pg_replication_slots where slot_name = ?) as slot,
            (select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = ?) as mark`,
    [schema, names.parkedSchema, names.publication, names.subscription, schema],
  );
  return { original: !!row?.original, parked: !!row?.parked, publication: !!row?.publication, slot: !!row?.slot, mark: row?.mark ?? undefined };
}

export async function targetStateOf(query: MoveQuery, schema: string, names: MoveNames): Promise<TargetState> {
  const [row] = await query<{ schema: boolean; mark: string | null; sub: string | null }>(
    `select exists(select 1 from pg_namespace where nspname = ?) as schema,
            (select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = ?) as mark,
            (select oid::text from pg_subscription where subname = ? and subdbid = (select oid from pg_database where datname = current_database())) as sub`,
    [schema, schema, names.subscription],
  );
  return { schema: !!row?.schema, mark: row?.mark ?? undefined, subscriptionOid: row?.sub ?? undefined };
}

/** The ordinary and partitioned tables of a schema, by name. */
export async function tablesOf(query: MoveQuery, schema: string): Promise<string[]> {
  const rows = await query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ? and c.relkind in ('r', 'p') order by c.relname`,
    [schema],
  );
  return rows.map((r) => r.name);
}

/** Each table's columns, by name (the order the checksums use on both sides, whatever the physical order). */
export async function columnsOf(query: MoveQuery, schema: string): Promise<Map<string, string[]>> {
  const rows = await query<{ t: string; c: string }>(
    `select c.relname as t, a.attname as c from pg_attribute a join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ? and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attname`,
    [schema],
  );
  const columns = new Map<string, string[]>();
  for (const { t, c } of rows) columns.set(t, [...(columns.get(t) ?? []), c]);
  return columns;
}

/** Tables whose UPDATE/DELETE logical replication cannot identify (no primary key, replica identity default or nothing). */
export async function tablesWithoutReplicaIdentity(query: MoveQuery, schema: string): Promise<string[]> {
  const rows = await query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ? and c.relkind = 'r'
        and (c.relreplident = 'n' or (c.relreplident = 'd' and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary)))
      order by c.relname`,
    [schema],
  );
  return rows.map((r) => r.name);
}

/** The sequences of a schema (serial and identity columns included): logical replication does not carry them. */
export async function sequencesOf(query: MoveQuery, schema: string): Promise<string[]> {
  const rows = await query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relkind = 'S' order by c.relname`,
    [schema],
  );
  return rows.map((r) => r.name);
}
