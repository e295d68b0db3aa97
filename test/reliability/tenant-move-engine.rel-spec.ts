/**
 * Issue 17, schema mode: moving a tenant schema between two PostgreSQL servers, and between two databases of one
 * server (isolation tiers: a shared database and a database of the tenant's own), while clients write, on logical
 * replication (src/isolation/move/). Real clusters with wal_level = logical. Writers behave like app instances
 * that have not heard of the fence (the worst case): they keep writing where the record pointed, and after an
 * error read the record again and retry. Checked: no acknowledged write lost, the verification passes, the source
 * schema is gone and cannot be written, sequences go on on the target, nothing of the move left; and the same
 * after a SIGKILL of the move at each step followed by a rerun.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/core';
import { Logger } from '@nestjs/common';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/embedded-postgres.js';
import { moveIdFor, moveNamesOf } from '../../src/isolation/move/move-names.js';
import { TenantMoveError, TenantMoveServerNotReadyError, TenantMoveTableWithoutKeyError } from '../../src/isolation/move/move.errors.js';
import type { MoveSide } from '../../src/isolation/move/move-sql.js';
import { moveSchema, type SchemaMoveStep } from '../../src/isolation/move/schema-move.js';
import { pollUntil } from './support/child-process.js';
import { expectMovedIntact } from './support/tenant-move-expect.js';
import { killAndRerun, type Route } from './support/tenant-move-kill.js';
import { MoveWriters } from './support/tenant-move-writers.js';
import {
  APP_DB,
  CUSTOMERS,
  createTenant,
  moveOptions,
  type MoveWorld,
  openSide,
  recordSide,
  removeReplication,
  reversed,
  runSql,
  shopDdl,
  snapshotOf,
  worldOf,
} from './support/tenant-move-world.js';

const TEST_MS = 120_000;

describe('tenant move engine: schema mode on logical replication', () => {
  let clusters: EmbeddedPostgres[] = [];
  let world: MoveWorld;
  let sides: { source: MoveSide; target: MoveSide };
  /** Servers A and B, database "app" on each. */
  let crossServers: Route;
  /** Server A: "shared_db" (tenants side by side) to "solo_db" (the tenant alone), and back. */
  let oneServer: Route;
  let oneServerBack: Route;
  const orms: MikroORM[] = [];

  beforeAll(async () => {
    clusters = await Promise.all([0, 1].map(() => startEmbeddedPostgres({ settings: { wal_level: 'logical' } })));
    const [a, b] = clusters as [EmbeddedPostgres, EmbeddedPostgres];
    await Promise.all(clusters.map((c) => runSql(c.url, `create database ${APP_DB}`)));
    await runSql(a.url, 'create database shared_db');
    await runSql(a.url, 'create database solo_db');
    world = worldOf(a.url, b.url);
    const shared = worldOf(a.url, a.url, { source: 'shared_db', target: 'solo_db' });
    const opened = await Promise.all([world.sourceUrl, world.targetUrl, shared.sourceUrl, shared.targetUrl].map(openSide));
    orms.push(...opened.map((o) => o.orm));
    const [srcApp, dstApp, sharedDb, soloDb] = opened.map((o) => o.side) as [MoveSide, MoveSide, MoveSide, MoveSide];
    sides = { source: srcApp, target: dstApp };
    crossServers = { world, sides, targetKey: 'target' };
    const server = new URL(a.url).port;
    oneServer = { world: shared, sides: { source: sharedDb, target: soloDb }, targetKey: `${server}/solo_db` };
    oneServerBack = { world: reversed(shared), sides: { source: soloDb, target: sharedDb }, targetKey: `${server}/shared_db` };
  }, TEST_MS);

  // a failed move keeps its subscription (a rerun continues it): removed, so one failure does not take the
  // logical replication workers the next test needs
  afterEach(async () => {
    for (const route of [crossServers, oneServer, oneServerBack]) await removeReplication(route.world);
  });

  afterAll(async () => {
    await Promise.all(orms.map((orm) => orm.close()));
    await Promise.all(clusters.map((c) => c.stop()));
  });

  // 30k rows here: the 100k-row target of issue 17 is measured at app level (tenant-move-app.rel-spec.ts)
  it('moves a 30k-row tenant while 6 clients write: no acknowledged write lost, verified, source gone, sequences go on', async () => {
    const schema = 'shop_main';
    const seeded = 30_000;
    await createTenant(world, schema, seeded);
    const before = await snapshotOf(world.sourceUrl, schema);
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
    await expectMovedIntact(world, schema, moveIdFor(schema, 'target'), writers, before);
    const { fencedAt, unfencedAt } = options.fences;
    const gap = writers.longestGap(fencedAt! - 50, unfencedAt! + 300);
    process.stdout.write(
      `[tenant move] two servers: ${seeded} orders + ${seeded} pivot rows, 6 writers: move ${movedMs} ms, fence() to unfence() ${report.fencedMs} ms ` +
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

  it("a fence attempt whose catch-up times out gives the tenant back, says where the slot stood, and the next attempt moves it", async () => {
    const schema = 'shop_stall';
    await createTenant(world, schema, 200);
    const warnings: string[] = [];
    const logger = Object.assign(new Logger('TenantMove'), { warn: (message: unknown) => void warnings.push(String(message)) });
    let locked = 0;
    let resumed: Promise<unknown> | undefined;
    const subscription = moveNamesOf(schema, moveIdFor(schema, 'target')).subscription;
    const options = moveOptions(world, schema, moveIdFor(schema, 'target'), sides, {
      logger,
      timing: { fenceLockTimeoutMs: 1_000, catchUpTimeoutMs: 400, catchUpMs: 500, syncTimeoutMs: 60_000, fenceAttempts: 2 },
      onStep: async (step: SchemaMoveStep) => {
        if (step !== 'fence-locked') return;
        if (++locked > 1) return;
        // first attempt: the target stops applying and the source's WAL moves on (another session): no confirmation
        // can come within the 400 ms; the target applies again once the attempt has given up
        await runSql(world.targetUrl, `alter subscription ${subscription} disable`);
        await runSql(world.sourceUrl, `select pg_logical_emit_message(false, 'stall-test', 'x')`);
        resumed = sleep(1_500).then(() => runSql(world.targetUrl, `alter subscription ${subscription} enable`));
      },
    });
    const report = await moveSchema(options);
    await resumed;
    expect({ attempts: report.fenceAttempts, switches: options.fences.switches, side: await recordSide(world, schema) }).toEqual({ attempts: 2, switches: 1, side: 'target' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/fence attempt 1 of 2 failed .*did not confirm the source's position [0-9A-F]+\/[0-9A-F]+ within 400 ms \(slot confirmed [0-9A-F]+\/[0-9A-F]+, .*; source WAL flushed to [0-9A-F]+\/[0-9A-F]+\)/);
    expect(await runSql(world.targetUrl, `select count(*)::int as n from "${schema}".orders`)).toEqual([{ n: 200 }]);
  }, TEST_MS);

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
    await killAndRerun(crossServers, 'two servers', `shop_kill_${killAt.replaceAll('-', '_')}`, killAt, resumedFrom);
  }, TEST_MS);

  describe('between two databases of one server (isolation tiers)', () => {
    /** Moves `schema` along `route` while 4 clients write (notes starting with `prefix`); checks the end state; returns the report line. */
    async function moveWithWriters(route: Route, schema: string, prefix: string): Promise<string> {
      const { world: w } = route;
      const moveId = moveIdFor(schema, route.targetKey);
      const before = await snapshotOf(w.sourceUrl, schema);
      const writers = new MoveWriters(w, schema, 4, prefix);
      await sleep(300);
      const options = moveOptions(w, schema, moveId, route.sides);
      const started = performance.now();
      const report = await moveSchema(options).finally(() => sleep(300).then(() => writers.stop()));
      const movedMs = Math.round(performance.now() - started - 300);
      expect(report).toMatchObject({ startedAt: 'new', tables: 4 });
      expect(options.fences.switches).toBe(1);
      expect(await recordSide(w, schema)).toBe('target');
      await expectMovedIntact(w, schema, moveId, writers, before);
      const gap = writers.longestGap(options.fences.fencedAt! - 50, options.fences.unfencedAt! + 300);
      return (
        `${new URL(w.sourceUrl).pathname.slice(1)} -> ${new URL(w.targetUrl).pathname.slice(1)}: move ${movedMs} ms, fence() to unfence() ${report.fencedMs} ms ` +
        `(${report.fenceAttempts} attempt(s), ${JSON.stringify(report.breakdown)}), longest stretch without an acknowledged write ${gap} ms, ` +
        `${writers.acks.notes.length} inserts acknowledged, 0 lost; writer errors ${JSON.stringify(Object.fromEntries(writers.errors))}`
      );
    }

    it('moves a tenant from a shared database to a database of its own on the same server and back, while 4 clients write', async () => {
      const schema = 'tier_acme';
      const { world: w } = oneServer;
      await createTenant(w, schema, 20_000);
      await runSql(w.sourceUrl, `${shopDdl('tier_other')}; insert into tier_other.customer (name) values ('neighbour')`); // another tenant of the shared database
      // a slot left by a run killed between creating it and CREATE SUBSCRIPTION: dropped and created again
      await runSql(w.sourceUrl, `select pg_create_logical_replication_slot($1, 'pgoutput')`, [moveIdFor(schema, oneServer.targetKey)]);

      const there = await moveWithWriters(oneServer, schema, 'a');
      await runSql(w.recordUrl, `update move_record set side = 'source' where schema = $1`, [schema]); // the way back: solo_db is now the source
      const back = await moveWithWriters(oneServerBack, schema, 'b');

      expect(await runSql(w.sourceUrl, `select name from tier_other.customer`)).toEqual([{ name: 'neighbour' }]);
      expect(await runSql(w.targetUrl, `select nspname from pg_namespace where nspname like 'tier_%' order by 1`)).toEqual([]);
      expect(await runSql(w.sourceUrl, `select nspname from pg_namespace where nspname like 'tier_%' or nspname like 'nmt_%' order by 1`)).toEqual([{ nspname: 'tier_acme' }, { nspname: 'tier_other' }]);
      expect(await runSql(w.recordUrl, 'select slot_name from pg_replication_slots')).toEqual([]);
      process.stdout.write(`[tenant move] one server, 50000 orders + 50000 pivot rows, 4 writers: ${there}\n[tenant move] one server, back: ${back}\n`);
    }, TEST_MS);

    it.each([
      ['subscribed', 'subscribed'],
      ['fence-verified', 'subscribed'],
    ] as [SchemaMoveStep, string][])('SIGKILLed at %s, then rerun: completes (resumed from %s), no write lost', async (killAt, resumedFrom) => {
      await killAndRerun(oneServer, 'one server', `tier_kill_${killAt.replaceAll('-', '_')}`, killAt, resumedFrom);
    }, TEST_MS);

    it('refuses a move onto the source database itself, before creating or emptying anything', async () => {
      const schema = 'tier_self';
      const self = worldOf(clusters[0]!.url, clusters[0]!.url, { source: 'shared_db', target: 'shared_db' });
      await createTenant(self, schema, 100);
      const options = moveOptions(self, schema, moveIdFor(schema, 'self'), { source: oneServer.sides.source, target: oneServer.sides.source });
      await expect(moveSchema(options)).rejects.toBeInstanceOf(TenantMoveServerNotReadyError);
      expect(await runSql(self.sourceUrl, `select count(*)::int as n from "${schema}".orders`)).toEqual([{ n: 100 }]);
      expect(await runSql(self.sourceUrl, 'select pubname from pg_publication')).toEqual([]);
    });

    it("leaves alone a slot of the move's name that belongs to another database of the server (a move id clash)", async () => {
      const schema = 'tier_clash';
      const { world: w } = oneServer;
      const moveId = moveIdFor(schema, oneServer.targetKey);
      await createTenant(w, schema, 100);
      await runSql(w.recordUrl, `select pg_create_logical_replication_slot($1, 'pgoutput')`, [moveId]); // in database "postgres"
      try {
        const failure = await moveSchema(moveOptions(w, schema, moveId, oneServer.sides)).catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(TenantMoveError);
        expect((failure as Error).message).toContain(`belongs to database "postgres"`);
        expect(await runSql(w.recordUrl, 'select database from pg_replication_slots where slot_name = $1', [moveId])).toEqual([{ database: 'postgres' }]);
        expect(await recordSide(w, schema)).toBe('source');
      } finally {
        await runSql(w.recordUrl, 'select pg_drop_replication_slot($1)', [moveId]);
      }
    });
  });
});
