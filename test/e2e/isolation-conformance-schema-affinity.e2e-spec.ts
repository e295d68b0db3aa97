/**
 * Isolation conformance, schema mode with tenant-affine connection groups (`tenancy.connectionAffinity`): the same
 * relational suite, sentinels in `public`, run while the tenant pool is split into two groups of two connections:
 * t1 on one, t2 on the other, and the work without a tenant (migrations, schema checks, lifecycle) on whichever is
 * least busy, so each group's connections pass between a tenant and tenant-less work. A connection handed on must
 * carry nothing of its last user (no `search_path`, no open transaction).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { groupOf } from '../../src/isolation/schema/connection-affinity.js';
import { type ConformanceEnv, TENANTS, conformanceHelpers, describeConformance } from '../fixtures/relational/conformance.js';
import { RawSql } from '../fixtures/relational/places.js';
import { startSchemaConformance } from '../fixtures/relational/schema-conformance-env.js';
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { TestDatabases } from '../support/test-databases.js';

const databases = new TestDatabases();
const raw = new RawSql();
const migrations = migrationsFolder('schema');
const GROUPS = 2;
let env: ConformanceEnv;

beforeAll(async () => {
  env = await startSchemaConformance({ databases, raw, migrationsPath: migrations.path, config: { pool: { min: 0, max: GROUPS * 2 } }, tenancy: { connectionAffinity: { groups: GROUPS } } });
});

afterAll(async () => {
  await env?.app.close();
  await raw.close();
  await databases.dropAll();
  migrations.dispose();
});

describe('isolation conformance (schema mode, connectionAffinity, sentinels in public)', () => {
  it('puts t1 and t2 in different groups, each served by its own connections (the suite below runs on that split)', async () => {
    expect(new Set(TENANTS.map((t) => groupOf(t, GROUPS))).size).toBe(GROUPS);
    const { inTenant } = conformanceHelpers(() => env);
    const pid = (em: EntityManager) => em.execute<{ pid: number }[]>('select pg_backend_pid() as pid from pg_sleep(0.02)').then((rows) => rows[0]!.pid);
    const [t1, t2] = await Promise.all(TENANTS.map(async (t) => new Set(await Promise.all(Array.from({ length: 6 }, () => inTenant(t, pid))))));
    expect([t1!.size <= 2, t2!.size <= 2, [...t1!].some((p) => t2!.has(p))]).toEqual([true, true, false]);
  });

  describeConformance(() => env);

  it("refuses a session-long search_path to public, and the group's next unqualified read still fails closed", async () => {
    const { inTenant } = conformanceHelpers(() => env);
    const outcome = (p: Promise<unknown>) => p.then((rows) => ({ rows }), (error: Error) => ({ error: error.message }));
    expect(await outcome(inTenant('t1', (em: EntityManager) => em.execute(`select set_config('search_path', 'public', false)`)))).toEqual({
      error: expect.stringMatching(/tried to change the search_path of a pooled connection for the whole session/),
    });
    const reads = await Promise.all(Array.from({ length: 4 }, () => outcome(inTenant('t2', (em: EntityManager) => em.execute('select marker from article')))));
    expect(reads).toEqual(Array.from({ length: 4 }, () => ({ error: expect.stringMatching(/relation "article" does not exist/) })));
    expect({ sentinelChanges: await env.sentinels.changes() }).toEqual({ sentinelChanges: {} });
  });
});
