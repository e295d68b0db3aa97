import { columnsOf, tablesOf } from './move-catalog.js';
import { type MoveQuery, qualified, quoteIdent } from './move-sql.js';

/** Row count and checksum of one table. */
export interface TableDigest {
  readonly rows: string;
  readonly sum: string;
}

/**
 * Settings that fix the text of a row, so that the same row gives the same text on both servers whatever their
 * sessions' defaults (time zone, date and interval styles, float digits, bytea format). `set local`: inside a
 * transaction only.
 */
const STABLE_ROW_TEXT = [
  `set local timezone = 'UTC'`,
  `set local datestyle = 'ISO, YMD'`,
  `set local intervalstyle = 'postgres'`,
  `set local extra_float_digits = 1`,
  `set local bytea_output = 'hex'`,
];

/** Only one tenant's rows of shared tables (its tenant column's value). */
export interface TenantRowsFilter {
  readonly column: string;
  readonly value: string;
}

/**
 * Per table: count(*) and the sum of a 64-bit hash (hashtextextended) of each row's text, its columns taken by
 * name so the physical column order does not matter. One sequential scan per table, no sort and no big string
 * (unlike md5(string_agg(... order by pk))): cheap enough to run under the fence. The sum is exact (numeric) and
 * order-independent; with the count it catches a missing, extra or changed row except for a 64-bit collision.
 * Must run inside a transaction (the settings are local). `rowsOf`: only one tenant's rows (a shared tier's tables).
 */
export async function tableDigests(query: MoveQuery, schema: string, columns: ReadonlyMap<string, readonly string[]>, rowsOf?: TenantRowsFilter): Promise<Map<string, TableDigest>> {
  for (const statement of STABLE_ROW_TEXT) await query(statement);
  const parts: string[] = [];
  const params: string[] = [];
  const where = rowsOf ? ` where ${quoteIdent(rowsOf.column)} = ?` : '';
  for (const [table, cols] of columns) {
    parts.push(
      `select ? as t, count(*)::text as n, coalesce(sum(hashtextextended(row(${cols.map(quoteIdent).join(', ')})::text, 0)), 0)::text as h from ${qualified(schema, table)}${where}`,
    );
    params.push(table, ...(rowsOf ? [rowsOf.value] : []));
  }
  if (!parts.length) return new Map();
  const rows = await query<{ t: string; n: string; h: string }>(parts.join(' union all '), params);
  return new Map(rows.map((r) => [r.t, { rows: r.n, sum: r.h }]));
}

/** The source's tables and columns (by name), read in the same transaction as its digests. */
export async function sourceColumns(query: MoveQuery, schema: string): Promise<Map<string, string[]>> {
  return columnsOf(query, schema);
}

/** Digests of the target's copy of the same tables; a table missing on the target is reported, not thrown. */
export async function targetDigests(query: MoveQuery, schema: string, columns: ReadonlyMap<string, readonly string[]>): Promise<{ digests: Map<string, TableDigest>; missing: string[] }> {
  const present = new Set(await tablesOf(query, schema));
  const missing = [...columns.keys()].filter((t) => !present.has(t));
  const kept = new Map([...columns].filter(([t]) => present.has(t)));
  return { digests: await tableDigests(query, schema, kept), missing };
}

/** What differs between two sets of digests, one line per table ('' when equal). */
export function digestDifferences(source: ReadonlyMap<string, TableDigest>, target: ReadonlyMap<string, TableDigest>, missing: readonly string[]): string[] {
  const differences = missing.map((t) => `table ${t} is missing on the target`);
  for (const [table, digest] of source) {
    const other = target.get(table);
    if (!other) continue;
    if (other.rows !== digest.rows) differences.push(`${table}: ${digest.rows} row(s) on the source, ${other.rows} on the target`);
    else if (other.sum !== digest.sum) differences.push(`${table}: same row count (${digest.rows}) but different checksums`);
  }
  return differences;
}
