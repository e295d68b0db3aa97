import type { EntityManager } from '@mikro-orm/core';

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Row counts of every table in `schema` (default: the connection's current schema, i.e. a tenant database's). */
export async function countRows(em: EntityManager, schema: string | undefined): Promise<Record<string, number>> {
  const execute = <R>(sql: string, params: unknown[] = []) => em.getConnection().execute(sql, params, 'all') as Promise<R[]>;
  const [where] = await execute<{ schema: string }>('select coalesce(?::text, current_schema()) as schema', [schema ?? null]);
  const tables = await execute<{ name: string }>(
    "select table_name as name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE' order by 1",
    [where?.schema],
  );
  if (!tables.length) return {};
  const counts = await execute<Record<string, string>>(
    `select ${tables.map((t, i) => `(select count(*) from ${quote(where?.schema as string)}.${quote(t.name)}) as c${i}`).join(', ')}`,
  );
  const row = counts[0] ?? {};
  return Object.fromEntries(tables.map((t, i) => [t.name, Number(row[`c${i}`])]));
}

/** `table: before -> after` for every table whose count changed (or that appeared or went away). */
export function isolationChanges(before: Record<string, number>, after: Record<string, number>): string[] {
  const tables = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return tables.filter((table) => before[table] !== after[table]).map((table) => `${table}: ${before[table] ?? 'none'} -> ${after[table] ?? 'none'} rows`);
}
