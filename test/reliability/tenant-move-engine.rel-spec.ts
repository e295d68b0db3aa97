/**
 * Issue 17, schema mode: moving a tenant schema between two PostgreSQL servers while clients write, on logical
 * replication (src/isolation/move/). Two real clusters with wal_level = logical. Writers behave like app instances
 * that have not heard of the fence (the worst case): they keep writing where the record pointed, and after an
 * error read the record again and retry. Checked: no acknowledged write lost, the verification passes, the source
 * schema is gone and cannot be written, sequences go on on the target; and the same after a SIGKILL of the move at
 * each step followed by a rerun.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/core';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/embedded-postgres.js';
import { moveIdFor } from '../../src/isolation/move/move-names.js';
import { TenantMoveTableWithoutKeyError } from '../../src/isolation/move/move.errors.js';
import type { MoveSide } from '../../src/isolation/move/move-sql.js';
import { moveSchema, type SchemaMoveStep } from '../../src/isolation/move/schema-move.js';
import { pollUntil, TsProcess } from './support/child-process.js';
import { MoveWriters } from './support/tenant-move-writers.js';
import { APP_DB, CUSTOMERS, createTenant, moveOptions, type MoveWorld, openSide, recordSide, runSql, worldEnv, worldOf } from './support/tenant-move-world.js';

const TEST_MS = 120_000;

describe('tenant move engine: schema mode on logical replication', () => {
  let clusters: EmbeddedPostgres[] = [];
  let world: MoveWorld;
  let sides: { source: MoveSide; target: MoveSide };
  const orms: MikroORM[] = [];

  beforeAll(async () => {
    clusters = await Promise.all([0, 1].map(() => startEmbeddedPostgres({ settings: { wal_level: 'logical' } })));
    const [source, target] = clusters as [EmbeddedPostgres, EmbeddedPostgres];
    await Promise.all(clusters.map((c) => runSql(c.url, `create database ${APP_DB}`)));
    world = worldOf(source.url, target.url);
    const [src, dst] = await Promise.all([openSide(world.sourceUrl), openSide(world.targetUrl)]);
    orms.push(src.orm, dst.orm);
    sides = { source: src.side, target: dst.side };
  }, TEST_MS);

  // a failed move keeps its subscription (a rerun continues it): remove them, so one failure does not take the
  // logical replication workers the next test needs
  afterEach(async () => {
    for (const { subname } of await runSql<{ subname: string }>(world.targetUrl, 'select subname from pg_subscription')) {
      await runSql(world.targetUrl, `alter subscription ${subname} disable; alter subscription ${subname} set (slot_name = none); drop subscription ${subname}`);
    }
    await pollUntil(async () => (await runSql(world.sourceUrl, 'select 1 from pg_replication_slots where active')).length === 0, 10_000, 50);
    await runSql(world.sourceUrl, 'select pg_drop_replication_slot(slot_name) from pg_replication_slots');
    for (const { pubname } of await runSql<{ pubname: string }>(world.sourceUrl, 'select pubname from pg_publication')) await runSql(world.sourceUrl, `drop publication ${pubname}`);
  });

  afterAll(async () => {
    await Promise.all(orms.map((orm) => orm.close()));
    await Promise.all(clusters.map((c) => c.stop()));
  });

  /** Every acknowledged write is on the target, nothing of the move is left, the source cannot be written. */
  async function expectMovedIntact(schema: string, writers: MoveWriters, seeded: number): Promise<void> {
    const s = `"${schema}"`;
    const notes = new Set((await runSql<{ note: string }>(world.targetUrl, `select note from ${s}.orders where note like 'w%'`)).map((r) => r.note));
    const lost = writers.acks.notes.filter((note) => !notes.has(note));
    expect({ schema, acknowledgedInserts: writers.acks.notes.length, lost }).toEqual({ schema, acknowledgedInserts: writers.acks.notes.length, lost: [] });
    expect(writers.acks.notes.length).toBeGreaterThan(0);
    const [counts] = await runSql<{ orders: string; pivot: string }>(world.targetUrl, `select (select count(*) from ${s}.orders)::text as orders, (select count(*) from ${s}.order_product)::text as pivot`);
    expect(counts).toEqual({ orders: String(seeded + notes.size), pivot: String(seeded + notes.size) });
    const visits = await runSql<{ id: number; visits: number }>(world.targetUrl, `select id, visits from ${s}.customer order by id`);
    for (const { id, visits: n } of visits) expect({ id, visits: n }).toEqual({ id, visits: writers.acks.visits.get(id) ?? 0 });

    const moveId = moveIdFor(schema, 'target');
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
    const [max] = await runSql<{ o: string }>(world.targetUrl, `select max(id)::text as o from ${s}.orders`);
    const [next] = await runSql<{ o: string; c: number; p: number }>(
      world.targetUrl,
      `with o as (insert into ${s}.orders (customer_id, note) values (1, 'after-move') returning id),
            c as (insert into ${s}.customer (name) values ('after-move') returning id),
            p as (insert into ${s}.product (title, price) values ('after-move', 1) returning id)
       select (select id::text from o) as o, (select id from c) as c, (select id from p) as p`,
    );
    expect(BigInt(next!.o)).toBeGreaterThan(BigInt(max!.o));
    expect(next!.c).toBeGreaterThan(CUSTOMERS);
    expect(next!.p).toBeGreaterThan(50);
  }

  it('moves a 100k-row tenant while 6 clients write: no acknowledged write lost, verified, source gone, sequences go on', async () => {
    const schema = 'shop_main';
    const seeded = 100_000;
    await createTenant(world, schema, seeded);
    const writers = new MoveWriters(world, schema, 6);
    await sleep(300);
    const options = moveOptions(world, schema, moveIdFor(schema, 'target'), sides);
    const started = performance.now();
    const report = await moveSchema(options).finally(() => sleep(300).then(() => writers.stop())); // writers go on, on the target
    const movedMs = Math.round(performance.now() - started - 300);

    expect(report).toMatchObject({ startedAt: 'new', tables: 4 });
    expect(report.rows).toBeGreaterThanOrEqual(2 * seeded + CUSTOMERS + 50);
    expect(options.fences.switches).toBe(1);
    expect(await recordSide(world, schema)).toBe('target');
    await expectMovedIntact(schema, writers, seeded);
    const { fencedAt, unfencedAt } = options.fences;
    const gap = writers.longestGap(fencedAt! - 50, unfencedAt! + 300);
    process.stdout.write(
      `[tenant move] ${seeded} orders + ${seeded} pivot rows, 6 writers: move ${movedMs} ms, fence() to unfence() ${report.fencedMs} ms ` +
        `(${report.fenceAttempts} attempt(s), ${JSON.stringify(report.breakdown)}), longest stretch without an acknowledged write around the fence ${gap} ms; ` +
        `${writers.acks.notes.length} inserts + ${[...writers.acks.visits.values()].reduce((a, b) => a + b, 0)} updates acknowledged; ` +
        `writer errors ${JSON.stringify(Object.fromEntries(writers.errors))}\n`,
    );
  }, TEST_MS);

  it('writers waiting for the fence lock fail with "relation does not exist" once the rename commits (plain and prepared statements)', async () => {
    const schema = 'shop_probe';
    await createTenant(world, schema, 1_000);
    const { default: pg } = await import('pg');
    const probes = [new pg.Client({ connectionString: world.sourceUrl, application_name: 'move-probe' }), new pg.Client({ connectionString: world.sourceUrl, application_name: 'move-probe' })];
    await Promise.all(probes.map((c) => c.connect()));
    const prepared = { name: 'probe_insert', text: `insert into "${schema}".customer (name) values ($1)`, values: ['before'] };
    await probes[1]!.query(prepared); // the plan is cached on that connection
    let waiting: Promise<unknown>[] = [];
    const options = moveOptions(world, schema, moveIdFor(schema, 'target'), sides, {
      onStep: async (step: SchemaMoveStep) => {
        if (step !== 'fence-verified') return;
        // the rename is done but not committed: both probes resolve the old name, then wait for the lock
        waiting = [probes[0]!.query(`insert into "${schema}".customer (name) values ('plain')`), probes[1]!.query({ ...prepared, values: ['prepared'] })].map((p) => p.catch((e: unknown) => e));
        const blocked = async () =>
          Number((await runSql<{ n: string }>(world.sourceUrl, `select count(*)::text as n from pg_stat_activity where application_name = 'move-probe' and wait_event_type = 'Lock'`))[0]?.n) === 2;
        expect(await pollUntil(blocked, 5_000, 10)).toBe(true);
      },
    });
    await moveSchema(options);
    const outcomes = await Promise.all(waiting);
    await Promise.all(probes.map((c) => c.end()));
    expect(outcomes.map((e) => (e as { code?: string }).code)).toEqual(['42P01', '42P01']);
    expect(await runSql(world.targetUrl, `select name from "${schema}".customer where name in ('plain', 'prepared')`)).toEqual([]);
  });

  it('refuses a schema with a table without a primary key, creating nothing', async () => {
    const schema = 'shop_keyless';
    await runSql(world.sourceUrl, `create schema ${schema}; create table ${schema}.log (line text)`);
    await runSql(world.recordUrl, `create table if not exists move_record (schema text primary key, side text not null)`);
    await runSql(world.recordUrl, `insert into move_record values ($1, 'source')`, [schema]);
    const options = moveOptions(world, schema, moveIdFor(schema, 'target'), sides);
    await expect(moveSchema(options)).rejects.toBeInstanceOf(TenantMoveTableWithoutKeyError);
    expect(await runSql(world.targetUrl, `select 1 from pg_namespace where nspname = $1`, [schema])).toEqual([]);
    expect(await runSql(world.sourceUrl, 'select 1 from pg_publication')).toEqual([]);
  });

  const KILLS: [SchemaMoveStep, 'new' | 'subscribed' | 'parked' | 'switched'][] = [
    ['target-ready', 'new'],
    ['subscribed', 'subscribed'],
    ['fence-verified', 'subscribed'],
    ['fence-committed', 'parked'],
    ['switched', 'switched'],
  ];

  it.each(KILLS)('SIGKILLed at %s, then rerun: completes (resumed from %s), no write lost, never two writable copies', async (killAt, resumedFrom) => {
    const schema = `shop_kill_${killAt.replaceAll('-', '_')}`;
    const seeded = 20_000;
    const moveId = moveIdFor(schema, 'target');
    await createTenant(world, schema, seeded);
    const writers = new MoveWriters(world, schema, 4);
    try {
      const child = new TsProcess('test/reliability/support/tenant-move-child.ts', [], { ...worldEnv(world), MOVE_SCHEMA: schema, MOVE_ID: moveId, MOVE_KILL_AT: killAt });
      const exit = await child.exited;
      expect({ signal: exit.signal, lastLine: exit.stdout.trim().split('\n').at(-1) }).toEqual({ signal: 'SIGKILL', lastLine: `step ${killAt}` });

      // after the kill: the source is writable only while the record points at it
      expect(await recordSide(world, schema)).toBe(killAt === 'switched' ? 'target' : 'source');
      const sourceWritable = await runSql(world.sourceUrl, `insert into "${schema}".customer (name) values ('probe') returning id`).then(
        () => true,
        (e: { code?: string }) => (e.code === '42P01' ? false : Promise.reject(e)),
      );
      expect({ killAt, sourceWritable }).toEqual({ killAt, sourceWritable: killAt === 'target-ready' || killAt === 'subscribed' || killAt === 'fence-verified' });
      if (sourceWritable) await runSql(world.sourceUrl, `delete from "${schema}".customer where name = 'probe'`);

      const options = moveOptions(world, schema, moveId, sides);
      const report = await moveSchema(options);
      await sleep(200); // writers go on, on the target
      await writers.stop();
      expect(report.startedAt).toBe(resumedFrom);
      expect(options.fences.switches).toBe(killAt === 'switched' ? 0 : 1);
      expect(await recordSide(world, schema)).toBe('target');
      await expectMovedIntact(schema, writers, seeded);
      process.stdout.write(
        `[tenant move] killed at ${killAt} (${exit.stdout.trim().split('\n').length} step(s) printed), rerun from '${report.startedAt}': ` +
          `fenced ${report.fencedMs ?? '-'} ms, ${writers.acks.notes.length} inserts acknowledged, 0 lost\n`,
      );
    } finally {
      await writers.stop();
    }
  }, TEST_MS);
});
