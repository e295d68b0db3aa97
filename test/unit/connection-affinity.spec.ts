/**
 * Tenant-affine connections (src/isolation/schema/connection-affinity.ts) on a stand-in for node-postgres' Pool: the
 * pool MikroORM creates becomes a front for `groups` pools; a tenant always lands in the same one. The real Pool and
 * PostgreSQL are covered by test/e2e/connection-affinity.e2e-spec.ts.
 */
import { EventEmitter } from 'node:events';
import type { ContextConfig } from '../../src/options/tenancy-options.js';
import { groupOf, withConnectionAffinity } from '../../src/isolation/schema/connection-affinity.js';

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
    expect(groupOf(undefined, 5)).toBe(0);
  });

  it("splits the pool's connections between the groups and takes a tenant's from its group", async () => {
    const tenant: { id?: string } = {};
    const front = affinePool(3, 10, tenant);
    const groups = FakePool.made.filter((p) => p !== front);
    expect(groups.map((g) => g.options)).toEqual(Array.from({ length: 3 }, () => ({ max: 3, options: '-c search_path=' })));
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      tenant.id = id;
      const client = (await front.connect()) as { from: FakePool };
      expect(client.from).toBe(groups[groupOf(id, 3)]);
    }
    tenant.id = undefined;
    expect(((await front.connect()) as { from: FakePool }).from).toBe(groups[0]);
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

  it('never leaves a group without a connection', () => {
    const front = affinePool(4, 3, {});
    expect(FakePool.made.filter((p) => p !== front).map((g) => g.options.max)).toEqual([1, 1, 1, 1]);
  });
});
