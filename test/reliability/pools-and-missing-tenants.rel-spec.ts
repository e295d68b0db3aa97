/**
 * Pool exhaustion and slow queries (both isolation modes): waits are bounded, the overflow gets a 503 with the
 * exact message, the app recovers when the load stops, and no connection is leaked (pg_stat_activity back to its
 * baseline, and to zero after close). One tenant's database missing, or its server down (database mode): that
 * tenant gets 503s, every other tenant keeps 100% success, and the missing database is not re-created.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextMigrations, MikroTenancyModule, TenantLifecycle, type MikroTenancyModuleOptions, type TenantIsolation } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { startLoadLoop } from './support/load-loop.js';

const WAIT_MS = 300;
const POOL_MAX = 2;
const HUB_POOL_MAX = 3; // test/fixtures/lifecycle-app.ts

async function boot(options: MikroTenancyModuleOptions): Promise<RunningApp> {
  return startApp({
    imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')],
    controllers: [NotesController],
    providers: [NotesService],
  });
}

/** Connections the app holds on the test server (every database but the one asking). */
async function appConnections(datnamePrefix: string): Promise<{ total: number; active: number }> {
  const [row] = await sql<{ total: string; active: string }>(
    'postgres',
    `select count(*) as total, count(*) filter (where state <> 'idle') as active from pg_stat_activity
      where datname like $1 and pid <> pg_backend_pid()`,
    [`${datnamePrefix}%`],
  );
  return { total: Number(row?.total), active: Number(row?.active) };
}

describe.each<TenantIsolation>(['schema', 'database'])('pool exhaustion and slow queries (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const prefix = uniqueName('pe');
  let app: RunningApp;

  beforeAll(async () => {
    const hubDb = await databases.create('pehub');
    const options = lifecycleOptions({ isolation, hubDb, databasePrefix: prefix });
    const tenancy = options.tenancy!;
    // schema mode: one shared pool of POOL_MAX; database mode: POOL_MAX per tenant (its wait is acquireTimeoutMs)
    options.tenancy = {
      ...tenancy,
      config: { ...tenancy.config, pool: { max: POOL_MAX }, driverOptions: { connectionTimeoutMillis: WAIT_MS } },
      pool: { maxOpenTenants: 5, acquireTimeoutMs: WAIT_MS, connectionsPerTenant: POOL_MAX },
    };
    app = await boot(options);
    await app.app.get(ContextMigrations).up('hub');
    await app.app.get(TenantLifecycle).create('p1');
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await databases.dropAll(prefix);
  });

  it('answers the overflow with a bounded 503, recovers, and leaks no connection', async () => {
    const hub = (await sql<{ d: string }>('postgres', 'select current_database() as d'))[0]; // keeps the helper honest
    expect(hub?.d).toBe('postgres');
    const datnames = isolation === 'schema' ? `${process.env.TEST_RUN_PREFIX}_pehub` : prefix;
    const slow = (ms: number) => app.request(`/slow?ms=${ms}`, { headers: { 'x-tenant-id': 'p1' } }).then((r) => ({ ...r, at: performance.now() }));

    // warm up: the pools (tenant and hub) open every connection they may ever hold
    await Promise.all(Array.from({ length: 8 }, () => slow(20)));
    const baseline = await appConnections(datnames);

    const started = performance.now();
    const storm = await Promise.all(Array.from({ length: 8 }, () => slow(1_500)));
    const rejected = storm.filter((r) => r.status === 503);
    const slowestRejection = Math.max(...rejected.map((r) => r.at - started));
    console.log(
      `pool exhaustion (${isolation}): 8 x 1.5 s queries on a pool of ${POOL_MAX}: ${storm.filter((r) => r.status === 200).length} ok, ` +
        `${rejected.length} x 503 within ${Math.round(slowestRejection)} ms; connections baseline ${baseline.total}`,
    );
    expect(storm.filter((r) => r.status === 200)).toHaveLength(POOL_MAX);
    expect(rejected).toHaveLength(8 - POOL_MAX);
    expect(slowestRejection).toBeLessThan(WAIT_MS + 1_000); // bounded: the wait, not the slow queries
    for (const { body } of rejected) {
      expect(body.message).toBe(
        "The database is unavailable: no pooled connection became free within the connection timeout (tenant 'p1'). " +
          'The request was not completed; retry later. If this persists, check that PostgreSQL is up and that the pool ' +
          'size (pool.max) and driverOptions.connectionTimeoutMillis fit the load.',
      );
    }

    // recovery, and every connection back where it was
    const after = await app.request('/notes', { headers: { 'x-tenant-id': 'p1' } });
    expect(after.status).toBe(200);
    await sleep(300);
    const settled = await appConnections(datnames);
    // nothing running or left in a transaction, and no more sessions than the pools may keep open, plus the session
    // that listens for other instances' tenant changes (opened with the first tenant request, idle on LISTEN)
    expect(settled.active).toBe(0);
    expect(settled.total).toBeLessThanOrEqual(Math.max(baseline.total, HUB_POOL_MAX + POOL_MAX + 1));
  }, 30_000);

  it('closes every connection on app.close()', async () => {
    const datnames = isolation === 'schema' ? `${process.env.TEST_RUN_PREFIX}_pehub` : prefix;
    await app.close();
    // a backend leaves pg_stat_activity a moment after its client said goodbye
    let left = await appConnections(datnames);
    for (let i = 0; i < 30 && left.total > 0; i++) {
      await sleep(100);
      left = await appConnections(datnames);
    }
    expect(left.total).toBe(0);
    app = undefined as unknown as RunningApp;
  });
});

describe('one tenant database missing or its server down (database isolation)', () => {
  const databases = new TestDatabases();
  const prefix = uniqueName('mt');
  const healthy = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
  let hubDb: string;
  let app: RunningApp;

  beforeAll(async () => {
    hubDb = await databases.create('mthub');
    const options = lifecycleOptions({ isolation: 'database', hubDb, databasePrefix: prefix });
    // 'remote' lives on a server that is not there (port 1 refuses at once)
    options.tenancy = { ...options.tenancy!, database: (t) => (t.id === 'remote' ? { dbName: `${prefix}_remote`, port: 1 } : { dbName: `${prefix}_${t.id}` }) };
    app = await boot(options);
    await app.app.get(ContextMigrations).up('hub');
    for (const id of [...healthy, 'ghost']) await app.app.get(TenantLifecycle).create(id);
    await sql(hubDb, `insert into tenant (id, suspended) values ('remote', false)`);
    // ghost is registered, has served a request (its ORM is open), then loses its database
    expect((await app.request('/notes', { headers: { 'x-tenant-id': 'ghost' } })).status).toBe(200);
    await sql('postgres', `drop database "${prefix}_ghost" with (force)`);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await databases.dropAll(prefix);
  });

  it('fails only that tenant, with 503, and never re-creates its database', async () => {
    const targets = [...healthy, 'ghost', 'remote'];
    const load = startLoadLoop(6, async (worker, seq) => {
      const tenant = targets[(worker * 7 + seq) % targets.length] as string;
      const write = seq % 3 === 0;
      const response = await app.request('/notes', write ? { method: 'POST', headers: { 'x-tenant-id': tenant }, json: { title: `t${seq}` } } : { headers: { 'x-tenant-id': tenant } });
      return { status: response.status, tenant };
    });
    await sleep(3_000);
    await load.stop();

    const of = (ids: string[]) => load.outcomes.filter((o) => ids.includes(o.tenant));
    const healthyOk = of(healthy).filter((o) => o.status === 200 || o.status === 201).length;
    console.log(
      `missing tenant database: ${load.outcomes.length} requests; healthy tenants ${healthyOk}/${of(healthy).length} ok; ` +
        `ghost ${JSON.stringify(countStatuses(of(['ghost'])))}; remote ${JSON.stringify(countStatuses(of(['remote'])))}`,
    );
    expect(of(healthy).length).toBeGreaterThan(50);
    expect(healthyOk).toBe(of(healthy).length);
    expect(of(['ghost']).length).toBeGreaterThan(0);
    expect(of(['ghost']).every((o) => o.status === 503)).toBe(true);
    expect(of(['remote']).length).toBeGreaterThan(0);
    expect(of(['remote']).every((o) => o.status === 503)).toBe(true);
    expect(await sql('postgres', 'select 1 from pg_database where datname = $1', [`${prefix}_ghost`])).toEqual([]);
  }, 30_000);
});

function countStatuses(outcomes: { status: unknown }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status } of outcomes) counts[String(status)] = (counts[String(status)] ?? 0) + 1;
  return counts;
}
