/**
 * Tenant-affine connections (src/isolation/schema/connection-affinity.ts) on a stand-in for node-postgres' Pool: the
 * pool MikroORM creates becomes a front for `groups` pools; a tenant always lands in the same one. The real Pool and
 * PostgreSQL are covered by test/e2e/connection-affinity.e2e-spec.ts.
 */
import { EventEmitter } from 'node:events';
import type { ContextConfig } from '../../src/options/tenancy-options.js';
import { groupOf, withConnectionAffinity } from '../../src/isolation/schema/connection-affinity.js';
import { changesSessionSearchPath, createsSessionTempTable } from '../../src/isolation/schema/session-search-path-guard.js';

class FakePool extends EventEmitter {
  static made: FakePool[] = [];
  readonly options: Record<string, unknown> & { max: number };
  connects: string[] = [];
  ended = false;
  totalCount = 1;
  idleCount = 1;
  waitingCount = 0;
  constructor(options: Record<string, unknown>) {
    super();
    this.options = { ...options } as FakePool['options'];
    FakePool.made.push(this);
  }
  async connect(): Promise<{ from: FakePool }> {
    this.connects.push('connect');
    return { from: this };
  }
  async end(): Promise<void> {
    this.ended = true;
  }
}

function affinePool(groups: number, max: number, tenant: { id?: string }, next?: (pool: FakePool) => void): FakePool {
  FakePool.made = [];
  const config = withConnectionAffinity({ driverOptions: { onPoolCreated: next } } as unknown as ContextConfig, groups, () => tenant.id);
  const front = new FakePool({ max, options: '-c search_path=' });
  (config.driverOptions as { onPoolCreated: (pool: FakePool) => void }).onPoolCreated(front);
  return front;
}

describe('tenant-affine connection groups', () => {
  it('gives every tenant one stable group, spread over all groups', () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => `tenant${i}`);
    const counts = [0, 0, 0, 0, 0];
    for (const id of ids) counts[groupOf(id, 5)]! += 1;
    expect(counts.every((n) => n > 150 && n < 250)).toBe(true);
    expect(ids.map((id) => groupOf(id, 5))).toEqual(ids.map((id) => groupOf(id, 5)));
  });

  it("splits the pool's connections between the groups and takes a tenant's from its group", async () => {
    const tenant: { id?: string } = {};
    const front = affinePool(3, 10, tenant);
    const groups = FakePool.made.filter((p) => p !== front);
    // 10 connections over 3 groups: 4 + 3 + 3, never more than the pool's max
    expect(groups.map((g) => g.options)).toEqual([4, 3, 3].map((max) => ({ max, min: 0, options: '-c search_path=' })));
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      tenant.id = id;
      const client = (await front.connect()) as { from: FakePool };
      expect(client.from).toBe(groups[groupOf(id, 3)]);
    }
    expect(front.connects).toEqual([]); // the front pool itself never connects
  });

  it("re-emits the groups' events on the front pool, sums their counters, ends them all with it", async () => {
    const front = affinePool(2, 4, { id: 'x' });
    const groups = FakePool.made.filter((p) => p !== front);
    const seen: string[] = [];
    front.on('connect', (client: string) => seen.push(`connect ${client}`));
    front.on('error', (error: Error) => seen.push(`error ${error.message}`));
    groups[1]!.emit('connect', 'c1');
    groups[0]!.emit('error', new Error('gone'));
    expect(seen).toEqual(['connect c1', 'error gone']);
    expect({ total: front.totalCount, idle: front.idleCount, waiting: front.waitingCount }).toEqual({ total: 2, idle: 2, waiting: 0 });
    await front.end();
    expect(groups.map((g) => g.ended)).toEqual([true, true]);
    expect(front.ended).toBe(true);
  });

  it('runs before the onPoolCreated hooks already configured, so theirs wrap the grouped connect', async () => {
    let wrappedConnect: unknown;
    const front = affinePool(2, 4, { id: 'x' }, (pool) => void (wrappedConnect = pool.connect));
    expect(wrappedConnect).toBe(front.connect);
    expect(((await front.connect()) as { from: FakePool }).from).not.toBe(front);
  });

  it('makes one group per connection when the pool is smaller than the groups (a server with a smaller pool)', () => {
    const front = affinePool(4, 3, {});
    expect(FakePool.made.filter((p) => p !== front).map((g) => g.options.max)).toEqual([1, 1, 1]);
  });

  it("splits the pool's min like its max, so an idle pool keeps min connections in all, not min per group", () => {
    FakePool.made = [];
    const config = withConnectionAffinity({ driverOptions: {} } as unknown as ContextConfig, 4, () => undefined);
    const front = new FakePool({ max: 8, min: 2 });
    (config.driverOptions as { onPoolCreated: (pool: FakePool) => void }).onPoolCreated(front);
    const groups = FakePool.made.filter((p) => p !== front);
    expect(groups.map((g) => [g.options.max, g.options.min])).toEqual([[2, 1], [2, 1], [2, 0], [2, 0]]);
  });

  it('gives work without a tenant (health checks, schema checks) the least busy group, not always the first', async () => {
    const tenant: { id?: string } = {};
    const front = affinePool(3, 6, tenant);
    const groups = FakePool.made.filter((p) => p !== front);
    // group 0 busy (both connections out, one waiter), group 1 one idle, group 2 nothing opened yet
    Object.assign(groups[0]!, { totalCount: 2, idleCount: 0, waitingCount: 1 });
    Object.assign(groups[1]!, { totalCount: 2, idleCount: 1, waitingCount: 0 });
    Object.assign(groups[2]!, { totalCount: 0, idleCount: 0, waitingCount: 0 });
    expect(((await front.connect()) as { from: FakePool }).from).toBe(groups[2]);
    Object.assign(groups[2]!, { totalCount: 2, idleCount: 0, waitingCount: 3 });
    expect(((await front.connect()) as { from: FakePool }).from).toBe(groups[1]);
  });
});

describe('temporary tables that outlive their transaction (refused on tenant connections)', () => {
  it('recognises create temp/temporary table and select ... into temp, however written', () => {
    for (const sql of ['create temp table author (id text)', 'CREATE TEMPORARY TABLE "comment" (id int)', 'create local temp table x as select 1', 'create /* x */ temp table x (id int)', 'select * into temp table t from x', 'SELECT 1 INTO TEMPORARY t']) {
      expect({ sql, refused: createsSessionTempTable(sql) }).toEqual({ sql, refused: true });
    }
  });

  it('lets ON COMMIT DROP tables and statements that only mention temp through', () => {
    for (const sql of ['create temp table staging (id int) on commit drop', "select * from template where name = 'temp'", 'select attempts from t', undefined]) {
      expect({ sql, refused: createsSessionTempTable(sql) }).toEqual({ sql, refused: false });
    }
  });
});

describe('session-long search_path changes (refused on tenant connections)', () => {
  it('recognises SET [SESSION] search_path and set_config(..., false), in any case and spacing', () => {
    for (const sql of [
      'SET search_path TO tenant_a',
      'set  session   search_path = x',
      "select set_config('search_path', 'tenant_a', false)",
      "SELECT SET_CONFIG( 'search_path' , $1 , FALSE )",
      // written to slip past a plain pattern
      "select set_config('search_path','tenant_o1','false')",
      'set /**/ search_path to tenant_o1',
      'SET\n  "search_path" TO tenant_o1',
      "select '--'; set search_path to tenant_o1",
      "select set_config('search_path', 'a', false), set_config('x', 'y', true)",
      "select set_config('search_path', concat('a', 'b'), true)",
    ]) {
      expect({ sql, refused: changesSessionSearchPath(sql) }).toEqual({ sql, refused: true });
    }
  });

  it('lets transaction-local changes, reads and resets through, and costs nothing on SQL without the word', () => {
    for (const sql of ['set local search_path to tenant_a', "select set_config('search_path', 'tenant_a', true)", "select current_setting('search_path')", 'reset search_path', 'select * from "tenant_a"."note"', undefined]) {
      expect({ sql, refused: changesSessionSearchPath(sql) }).toEqual({ sql, refused: false });
    }
  });
});
