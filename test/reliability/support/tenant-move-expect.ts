/**
 * The end state every tenant move test checks: each acknowledged write on the target, nothing of the move left on
 * either database, the source schema gone (not writable), sequences going on above the moved rows on the target.
 */
import { CUSTOMERS, type MoveWorld, runSql, type TenantSnapshot } from './tenant-move-world.js';
import type { MoveWriters } from './tenant-move-writers.js';

export async function expectMovedIntact(world: MoveWorld, schema: string, moveId: string, writers: MoveWriters, before: TenantSnapshot): Promise<void> {
  const s = `"${schema}"`;
  const notes = new Set((await runSql<{ note: string }>(world.targetUrl, `select note from ${s}.orders where starts_with(note, $1)`, [writers.prefix])).map((r) => r.note));
  const lost = writers.acks.notes.filter((note) => !notes.has(note));
  expect({ schema, acknowledgedInserts: writers.acks.notes.length, lost }).toEqual({ schema, acknowledgedInserts: writers.acks.notes.length, lost: [] });
  expect(writers.acks.notes.length).toBeGreaterThan(0);
  const [counts] = await runSql<{ orders: string; pivot: string }>(world.targetUrl, `select (select count(*) from ${s}.orders)::text as orders, (select count(*) from ${s}.order_product)::text as pivot`);
  expect(counts).toEqual({ orders: String(before.orders + notes.size), pivot: String(before.pivot + notes.size) });
  const visits = await runSql<{ id: number; visits: number }>(world.targetUrl, `select id, visits from ${s}.customer order by id`);
  for (const { id, visits: n } of visits) expect({ id, visits: n }).toEqual({ id, visits: (before.visits.get(id) ?? 0) + (writers.acks.visits.get(id) ?? 0) });

  // slots are counted server-wide: on one server, the target database's side too
  const [left] = await runSql<Record<string, string>>(
    world.sourceUrl,
    `select (select count(*) from pg_namespace where nspname in ($1, $2))::text as schemas, (select count(*) from pg_publication)::text as publications,
            (select count(*) from pg_replication_slots)::text as slots`,
    [schema, `${moveId}_parked`],
  );
  expect(left).toEqual({ schemas: '0', publications: '0', slots: '0' });
  expect(await runSql(world.targetUrl, 'select subname from pg_subscription')).toEqual([]);
  await expect(runSql(world.sourceUrl, `insert into ${s}.customer (name) values ('late')`)).rejects.toMatchObject({ code: '42P01' });

  // sequences (serial, bigserial, identity) continue above the moved rows on the target
  const [max] = await runSql<{ o: string; c: number; p: number }>(world.targetUrl, `select (select max(id)::text from ${s}.orders) as o, (select max(id) from ${s}.customer) as c, (select max(id) from ${s}.product) as p`);
  const [next] = await runSql<{ o: string; c: number; p: number }>(
    world.targetUrl,
    `with o as (insert into ${s}.orders (customer_id, note) values (1, $1) returning id),
          c as (insert into ${s}.customer (name) values ('after-move') returning id),
          p as (insert into ${s}.product (title, price) values ('after-move', 1) returning id)
     select (select id::text from o) as o, (select id from c) as c, (select id from p) as p`,
    [`after-move-${moveId}`],
  );
  expect(BigInt(next!.o)).toBeGreaterThan(BigInt(max!.o));
  expect(next!.c).toBeGreaterThan(Math.max(max!.c, CUSTOMERS));
  expect(next!.p).toBeGreaterThan(Math.max(max!.p, 50));
}
