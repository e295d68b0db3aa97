import { sequencesOf } from './move-catalog.js';
import { type MoveQuery, qualified } from './move-sql.js';

/**
 * Logical replication does not carry sequences: set each of the target's to the source's state (last_value and
 * is_called, so the next nextval() on the target returns what it would have on the source). Run under the fence,
 * where no insert can draw a value on the source. The target side runs as one transaction, committed with
 * synchronous_commit on: its commit flushes the target's WAL, applied changes included.
 */
export async function copySequences(source: MoveQuery, sourceSchema: string, target: (fn: (q: MoveQuery) => Promise<void>) => Promise<void>, targetSchema: string): Promise<number> {
  const names = await sequencesOf(source, sourceSchema);
  if (!names.length) return 0;
  const rows = await source<{ name: string; value: string; called: boolean }>(
    names.map((n) => `select ? as name, last_value::text as value, is_called as called from ${qualified(sourceSchema, n)}`).join(' union all '),
    names,
  );
  await target(async (q) => {
    await q(`set local synchronous_commit = on`);
    await q(`select ${rows.map(() => `setval(?::regclass, ?::bigint, ?)`).join(', ')}`, rows.flatMap((r) => [qualified(targetSchema, r.name), r.value, r.called]));
  });
  return rows.length;
}

/**
 * Moving a tenant out of the shared tier: each target sequence raised to at least its shared counterpart's value,
 * never lowered (the shared sequence served every tenant, so its values are a superset of the tenant's). Returns
 * how many were set.
 */
export async function raiseSequences(source: MoveQuery, sourceSchema: string, target: (fn: (q: MoveQuery) => Promise<void>) => Promise<void>, targetSchema: string): Promise<number> {
  const names = await sequencesOf(source, sourceSchema);
  if (!names.length) return 0;
  const rows = await source<{ name: string; value: string }>(names.map((n) => `select ? as name, last_value::text as value from ${qualified(sourceSchema, n)}`).join(' union all '), names);
  let set = 0;
  await target(async (q) => {
    await q(`set local synchronous_commit = on`);
    const present = new Set(await sequencesOf(q, targetSchema));
    for (const { name, value } of rows.filter((r) => present.has(r.name))) {
      const seq = qualified(targetSchema, name);
      await q(`select setval(?::regclass, greatest(?::bigint, (select last_value from ${seq})), true)`, [seq, value]);
      set++;
    }
  });
  return set;
}
