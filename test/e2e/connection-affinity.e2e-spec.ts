/**
 * Tenant-affine connections (`tenancy.connectionAffinity`), schema isolation, real PostgreSQL and node-postgres: a
 * tenant's queries always run on the connections of its group, groups never share a connection, and isolation holds
 * on every path (writes over HTTP with pauses between queries, transactions, raw SQL through the tenant EM).
 */
import { MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { MikroTenancyModule, TenancyService, TenantStores, getEntityManagerToken } from '../../src/index.js';
import { groupOf } from '../../src/isolation/schema/connection-affinity.js';
import { hubConfig, tenantTemplate } from '../fixtures/configs.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { Tenant } from '../fixtures/entities/tenant.entity.js';
import { NotesController, NotesService, provisionSchemas } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql } from '../support/test-databases.js';

const databases = new TestDatabases();
const GROUPS = 3;
const POOL_MAX = 6;
/** Six tenants, two in each of the three groups (checked below: the test means nothing otherwise). */
const TENANTS = pickTenants();
let hubDb: string;
let app: RunningApp;

function pickTenants(): string[] {
  const picked: string[] = [];
  for (let i = 0; picked.length < GROUPS * 2; i++) {
    const id = `aff${i}`;
    if (picked.filter((t) => groupOf(t, GROUPS) === groupOf(id, GROUPS)).length < 2) picked.push(id);
  }
  return picked;
}

beforeAll(async () => {
  hubDb = await databases.create('affinity');
  const hub = await MikroORM.init(hubConfig(hubDb));
  await hub.schema.create();
  await hub.em.fork().insertMany(Tenant, TENANTS.map((id) => ({ id, suspended: false })));
  await hub.close();
  const tenants = await MikroORM.init(tenantTemplate(hubDb));
  await provisionSchemas(tenants, TENANTS.map((t) => `tenant_${t}`));
  await tenants.close();
  app = await startApp({
    imports: [
      MikroTenancyModule.forRoot({
        contexts: { default: hubConfig(hubDb) },
        tenancy: {
          isolation: 'schema',
          config: { ...tenantTemplate(hubDb), pool: { min: 0, max: POOL_MAX } },
          store: TenantStores.table(Tenant),
          connectionAffinity: { groups: GROUPS },
        },
      }),
      MikroTenancyModule.forFeature([Note], 'tenant'),
    ],
    controllers: [NotesController],
    providers: [NotesService],
  });
});

afterAll(async () => {
  await app?.close();
  await databases.dropAll();
});

/** The PostgreSQL backend of each of `n` concurrent units of work of a tenant (each holds its connection 30 ms). */
async function backendsOf(tenant: string, n: number, inTransaction = false): Promise<number[]> {
  const tenancy = app.app.get(TenancyService);
  const em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
  const query = async (on: EntityManager) => Number((await on.execute<{ pid: number }[]>('select pg_backend_pid() as pid from pg_sleep(0.03)'))[0]?.pid);
  return Promise.all(Array.from({ length: n }, () => tenancy.run(tenant, () => (inTransaction ? em.transactional((tx) => query(tx as EntityManager)) : query(em)))));
}

describe('tenant-affine connection groups (schema isolation)', () => {
  it('puts two of the six tenants in each group', () => {
    expect(TENANTS.map((t) => groupOf(t, GROUPS)).sort()).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it("runs a tenant's work only on its group's connections, and no two groups share a connection", async () => {
    const seen = await Promise.all(TENANTS.map(async (t) => ({ tenant: t, pids: new Set([...(await backendsOf(t, 8)), ...(await backendsOf(t, 4, true))]) })));
    const byGroup = new Map<number, Set<number>>();
    for (const { tenant, pids } of seen) {
      expect({ tenant, connections: pids.size <= POOL_MAX / GROUPS }).toEqual({ tenant, connections: true });
      const group = byGroup.get(groupOf(tenant, GROUPS)) ?? new Set<number>();
      for (const pid of pids) group.add(pid);
      byGroup.set(groupOf(tenant, GROUPS), group);
    }
    const groups = [...byGroup.values()];
    expect(groups.map((g) => g.size <= POOL_MAX / GROUPS)).toEqual([true, true, true]);
    const all = groups.flatMap((g) => [...g]);
    expect(new Set(all).size).toBe(all.length); // disjoint
    expect(all.length).toBeLessThanOrEqual(POOL_MAX);
    // and they are real, distinct backends of the tenants' database
    const live = await sql<{ pid: number }>(hubDb, `select pid from pg_stat_activity where datname = $1 and pid = any($2::int[])`, [hubDb, all]);
    expect(live).toHaveLength(all.length);
  });

  it('keeps every write in its tenant schema while all tenants write at once, pausing between queries', async () => {
    const writes = TENANTS.flatMap((t) => Array.from({ length: 5 }, (_, i) => ({ t, title: `affinity-${t}-${i}` })));
    const answers = await Promise.all(writes.map(({ t, title }) => app.request('/notes?pause=20', { method: 'POST', json: { title }, headers: { 'x-tenant-id': t } })));
    expect(answers.map((a) => a.status)).toEqual(writes.map(() => 201));
    for (const t of TENANTS) {
      const rows = await sql<{ title: string; marker: string }>(hubDb, `select title, marker from "tenant_${t}".note where title like 'affinity-%' order by title`);
      expect(rows).toEqual(Array.from({ length: 5 }, (_, i) => ({ title: `affinity-${t}-${i}`, marker: t })));
    }
    const listed = await app.request('/notes', { headers: { 'x-tenant-id': TENANTS[0]! } });
    expect(listed.status).toBe(200);
    expect(new Set((listed.body as { marker: string }[]).map((n) => n.marker))).toEqual(new Set([TENANTS[0]]));
  });
});

describe('a session-long search_path change on a pooled tenant connection', () => {
  const run = <R>(tenant: string, fn: (em: EntityManager) => Promise<R>) =>
    app.app.get(TenancyService).run(tenant, () => fn(app.app.get<EntityManager>(getEntityManagerToken('tenant'))));
  const outcome = (p: Promise<unknown>) => p.then(() => 'done', (error: Error) => error.message);
  const [first, second] = [TENANTS[0]!, TENANTS.find((t) => t !== TENANTS[0] && groupOf(t, GROUPS) === groupOf(TENANTS[0]!, GROUPS))!];

  it("is refused on every query path, before it reaches PostgreSQL, so the group's next tenant never reads this schema", async () => {
    const refused = /tried to change the search_path of a pooled connection for the whole session/;
    expect(await outcome(run(first, (em) => em.execute(`select set_config('search_path', 'tenant_${first}', false)`)))).toMatch(refused);
    expect(await outcome(run(first, (em) => em.getConnection().execute(`SET search_path TO "tenant_${first}"`)))).toMatch(refused);
    expect(await outcome(run(first, (em) => em.transactional((tx) => tx.execute(`set session search_path = tenant_${first}`))))).toMatch(refused);
    // every connection of the group still resolves no tenant table: the other tenant's unqualified read fails closed
    const reads = await Promise.all(Array.from({ length: 4 }, () => outcome(run(second, (em) => em.execute('select marker from note')))));
    expect(reads).toEqual(Array.from({ length: 4 }, () => expect.stringMatching(/relation "note" does not exist/)));
  });

  it('lets a transaction-local change through (SET LOCAL, set_config(..., true)): it ends with the transaction', async () => {
    await sql(hubDb, `insert into "tenant_${first}".note (title, marker) values ('set-local', $1)`, [first]);
    const local = await run(first, (em) =>
      em.transactional(async (tx) => {
        await tx.execute(`set local search_path to "tenant_${first}"`);
        const viaSet = await tx.execute<{ marker: string }[]>(`select marker from note where title = 'set-local'`);
        await tx.execute(`select set_config('search_path', 'tenant_${first}', true)`);
        return viaSet;
      }),
    );
    expect(local).toEqual([{ marker: first }]);
    expect(await outcome(run(second, (em) => em.execute('select marker from note')))).toMatch(/relation "note" does not exist/);
  });
});
