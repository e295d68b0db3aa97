/**
 * Read replicas against the embedded PostgreSQL: the "replica" is a TCP proxy in front of the primary itself (same
 * cluster, same start time, so the library accepts it with no lag), which the test can cut. Where each query ran is
 * read from MikroORM's own query log: the connection it ran on is the primary ('write') or a replica ('read').
 * test/reliability/replicas.rel-spec.ts does the same against a real streaming replica.
 */
import { ContextMigrations, TenancyService, TenantConnectionMismatchError, TenantLifecycle, getMikroORMToken } from '../../src/index.js';
import type { MikroORM } from '@mikro-orm/core';
import { QueryLog, REPLICA_ITEM_DDL, ReplicaItem, replicaAppModule } from '../reliability/support/replica-app.js';
import { type ReplicaProxy, startReplicaProxy } from '../reliability/support/replica-proxy.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, connectionOptions, sql, uniqueName } from '../support/test-databases.js';

const databases = new TestDatabases();
const databasePrefix = uniqueName('rep');
const queries = new QueryLog();
const COUNT_ITEMS = /select count\(\*\).*"replica_item"/;
const COUNT_NOTES = /select count\(\*\).*"note"/;
let proxy: ReplicaProxy;
let app: RunningApp;
let hubDb: string;
const applicationName = uniqueName('hubreplica');

beforeAll(async () => {
  hubDb = await databases.create('rephub');
  const hub = connectionOptions(hubDb);
  proxy = await startReplicaProxy(hub);
  const viaProxy = { host: '127.0.0.1', port: proxy.port };
  app = await startApp({
    imports: [
      replicaAppModule({
        hub,
        // its own driverOptions: merged over the primary's (the pool guards stay), not instead of them
        hubReplicas: [{ name: 'hub-replica', ...viaProxy, driverOptions: { application_name: applicationName } }],
        databasePrefix,
        // 'stray' is given a replica in another tenant's database: refused
        tenantReplicas: (id) => (id === 'stray' ? [{ ...viaProxy, dbName: `${databasePrefix}_t1` }] : [{ name: 'tenant-replica', ...viaProxy }]),
        queries,
        replicaLag: { maxMs: 2_000, checkEveryMs: 100 },
      }),
    ],
  });
  await app.app.get(ContextMigrations).up('hub');
  await sql(hubDb, REPLICA_ITEM_DDL);
  await app.app.get(TenantLifecycle).create('t1');
}, 60_000);

afterAll(async () => {
  await app?.close();
  await proxy?.close();
  await databases.dropAll(databasePrefix);
});

/** The hub's replica is checked (so it serves reads) once the health check has run. */
async function hubReplicaState(): Promise<{ state: string; lagMs?: number; reason?: string }> {
  const response = await app.request('/health');
  return response.body.hub.hub.replicas[0];
}

describe('read replicas (static context)', () => {
  it('sends the reads of a request to the replica, and a write and the reads after it in that request to the primary', async () => {
    expect(await hubReplicaState()).toMatchObject({ name: 'hub-replica', state: 'up', lagMs: expect.any(Number) });
    queries.clear();
    const written = await app.request('/items', { method: 'POST', json: { title: 'a' } });
    expect(written.body).toEqual({ seen: 1, pinned: true });
    expect(queries.count(/insert into "replica_item"/)).toEqual({ read: 0, write: 1 });
    expect(queries.count(COUNT_ITEMS)).toEqual({ read: 0, write: 1 });

    queries.clear();
    const read = await app.request('/items/count?title=a');
    expect(read.body).toEqual({ count: 1, pinned: false }); // the next request is a new unit of work
    expect(queries.count(COUNT_ITEMS)).toEqual({ read: 1, write: 0 });
  });

  it("opens the replica's connections with its own driverOptions over the primary's", async () => {
    await hubReplicaState();
    const rows = await sql<{ n: string }>(hubDb, "select count(*)::text as n from pg_stat_activity where application_name = $1 and datname = current_database()", [applicationName]);
    expect(Number(rows[0]?.n)).toBeGreaterThan(0);
    const orm = app.app.get<MikroORM>(getMikroORMToken('hub'));
    const [replica] = (orm.em.getDriver() as unknown as { replicas: { options: { driverOptions: Record<string, unknown> } }[] }).replicas;
    // the library's pool guards (bounded pool wait, onPoolCreated) come from the primary's driverOptions
    expect(replica?.options.driverOptions).toMatchObject({ application_name: applicationName, connectionTimeoutMillis: 5_000, onPoolCreated: expect.any(Function) });
  });

  it.each(['native', 'transaction', 'raw'])('a write by %s also pins the rest of the request to the primary', async (how) => {
    await hubReplicaState();
    queries.clear();
    const response = await app.request(`/items?how=${how}`, { method: 'POST', json: { title: `by-${how}` } });
    expect(response.body).toEqual({ seen: 1, pinned: true });
    expect(queries.count(COUNT_ITEMS)).toEqual({ read: 0, write: 1 });
  });

  it('streams from the replica too', async () => {
    await hubReplicaState();
    queries.clear();
    expect((await app.request('/items/stream')).body).toEqual({ count: expect.any(Number) });
    expect(queries.count(/from "replica_item"/)).toEqual({ read: 1, write: 0 });
  });

  it('pinToPrimary sends the rest of the unit of work to the primary on demand', async () => {
    await hubReplicaState();
    queries.clear();
    expect((await app.request('/items/count?title=a&pin=1')).body).toEqual({ count: 1, pinned: true });
    expect(queries.count(COUNT_ITEMS)).toEqual({ read: 0, write: 1 });
  });

  it('uses the replica in TenancyService.run(), and the primary outside any unit of work', async () => {
    await hubReplicaState();
    queries.clear();
    expect((await app.request('/items/count-in-run?title=a')).body).toEqual({ count: 1 });
    expect(queries.count(COUNT_ITEMS)).toEqual({ read: 1, write: 0 });

    queries.clear();
    const orm = app.app.get<MikroORM>(getMikroORMToken('hub'));
    expect(await orm.em.fork().count(ReplicaItem, { title: 'a' })).toBe(1);
    expect(queries.count(COUNT_ITEMS)).toEqual({ read: 0, write: 1 }); // no unit of work to keep consistent: the primary
  });

  it('answers every request while the replica is cut, reports it down, and uses it again once it is back', async () => {
    await hubReplicaState();
    const statuses: number[] = [];
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) statuses.push((await app.request('/items/count?title=a')).status);
    };
    const traffic = Promise.all([send(40), send(40), send(40)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await proxy.cut();
    await traffic;
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(statuses).toHaveLength(120);
    const down = await hubReplicaState();
    expect(down).toMatchObject({ state: 'down', reason: expect.any(String) });

    queries.clear();
    expect((await app.request('/items/count?title=a')).status).toBe(200);
    expect(queries.count(COUNT_ITEMS)).toEqual({ read: 0, write: 1 });

    await proxy.restore();
    expect(await hubReplicaState()).toMatchObject({ state: 'up' });
    queries.clear();
    expect((await app.request('/items/count?title=a')).status).toBe(200);
    expect(queries.count(COUNT_ITEMS)).toEqual({ read: 1, write: 0 });
  });
});

describe('read replicas (database-mode tenants)', () => {
  const tenant = { headers: { 'x-tenant-id': 't1' } };

  it("reads a tenant's data from the tenant's replica once it is checked, and pins the request after a write", async () => {
    // the first read starts the tenant replica's first check; until it is done, reads go to the primary
    let onReplica = 0;
    for (let attempt = 0; attempt < 50 && onReplica === 0; attempt++) {
      queries.clear();
      expect((await app.request('/notes/count?title=x', tenant)).status).toBe(200);
      onReplica = queries.count(COUNT_NOTES).read;
    }
    expect(onReplica).toBe(1);

    queries.clear();
    expect((await app.request('/notes', { method: 'POST', json: { title: 'n1' }, ...tenant })).body).toEqual({ seen: 1 });
    expect(queries.count(COUNT_NOTES)).toEqual({ read: 0, write: 1 });

    const response = await app.request('/notes/count?title=n1', tenant);
    expect(response.body).toEqual({ count: 1, markers: ['t1'] });

    const health = await app.request('/health');
    expect(health.body.tenants.tenant.replicas[`tenant:t1`]).toEqual([expect.objectContaining({ name: 'tenant-replica', state: 'up' })]);
  });

  it("refuses a tenant whose replica is configured in another database, before anything is read", async () => {
    await expect(app.app.get(TenantLifecycle).create('stray')).rejects.toThrow(TenantConnectionMismatchError);
    await expect(app.app.get(TenantLifecycle).create('stray')).rejects.toThrow(
      `Tenant 'stray' cannot be served: read replica config (tenancy.database() or tenancy.config): replicas[0] connects to database "${databasePrefix}_t1", not "${databasePrefix}_stray" like its primary`,
    );
    // registered by hand (as another instance or a script would), it is still never served
    await sql(hubDb, `insert into tenant (id, suspended) values ('stray', false) on conflict do nothing`);
    queries.clear();
    const served = app.app.get(TenancyService).run('stray', () => 'served');
    await expect(served).rejects.toThrow(TenantConnectionMismatchError);
    const response = await app.request('/notes/count?title=n1', { headers: { 'x-tenant-id': 'stray' } });
    expect(response.status).toBe(500);
    expect(queries.count(COUNT_NOTES)).toEqual({ read: 0, write: 0 });
  });
});
