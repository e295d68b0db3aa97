/**
 * Read replicas on a real PostgreSQL streaming replica (pg_basebackup -R of a fresh primary, see
 * support/replica-cluster.ts). Where every statement ran is read from each server's own pg_stat_statements, not from
 * the library: reads of a request on the standby, writes on the primary, read-your-writes within a request while the
 * standby's replay is paused, a standby lagging beyond maxMs skipped, the standby stopped and started again under load
 * with no failed request, and database-mode tenants reading from the standby (and one whose configured replica is
 * another cluster, refused).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextMigrations, TenantLifecycle } from '../../src/index.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, serverUrl, sql, uniqueName } from '../support/test-databases.js';
import { startLoadLoop } from './support/load-loop.js';
import { QueryLog, REPLICA_ITEM_DDL, replicaAppModule } from './support/replica-app.js';
import { type ReplicaCluster, startReplicaCluster } from './support/replica-cluster.js';

const MAX_LAG_MS = 3_000;
const COUNT_ITEMS = /^select count\(\*\).*from "replica_item"/i;
const INSERT_ITEMS = /^insert into "replica_item"/i;
const COUNT_NOTES = /^select count\(\*\).*from "note"/i;
const INSERT_NOTES = /^insert into "note"/i;

const embedded = new TestDatabases(); // the suite's own server: home of tenant t3's misconfigured "replica"
const databasePrefix = uniqueName('rr');
const queries = new QueryLog();
const crashes: unknown[] = [];
const onCrash = (error: unknown) => void crashes.push(error);
let cluster: ReplicaCluster;
let app: RunningApp;

type ReplicaReport = { name: string; state: string; lagMs?: number; reason?: string };

beforeAll(async () => {
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  cluster = await startReplicaCluster();
  await cluster.primary.sql('postgres', 'create database hub');
  const standby = { name: 'standby', host: cluster.replica.host, port: cluster.replica.port, user: 'postgres' };
  // t3's replica is a database of the same name on another cluster (the embedded test server)
  const other = new URL(serverUrl());
  embedded.track(`${databasePrefix}_t3`);
  await sql('postgres', `create database "${databasePrefix}_t3"`);
  app = await startApp({
    imports: [
      replicaAppModule({
        hub: cluster.primary.connection('hub'),
        hubReplicas: [standby],
        databasePrefix,
        tenantReplicas: (id) =>
          id === 't3'
            ? [{ name: 'another-cluster', host: other.hostname, port: Number(other.port), user: decodeURIComponent(other.username || 'postgres') }]
            : [{ ...standby }],
        queries,
        replicaLag: { maxMs: MAX_LAG_MS, checkEveryMs: 200 },
      }),
    ],
  });
  await app.app.get(ContextMigrations).up('hub');
  await cluster.primary.sql('hub', REPLICA_ITEM_DDL);
  for (const id of ['t1', 't2', 't3']) await app.app.get(TenantLifecycle).create(id);
  expect(await waitFor(async () => (await hubReplica()).state === 'up', 20_000)).toBe(true);
}, 180_000);

afterAll(async () => {
  process.off('unhandledRejection', onCrash);
  process.off('uncaughtException', onCrash);
  await app?.close();
  cluster?.destroy();
  await embedded.dropAll();
});

async function health(): Promise<{ hub: ReplicaReport[]; tenants: Record<string, ReplicaReport[]> }> {
  const body = (await app.request('/health')).body;
  return { hub: body.hub.hub.replicas, tenants: body.tenants.tenant.replicas ?? {} };
}
async function hubReplica(): Promise<ReplicaReport> {
  return (await health()).hub[0] as ReplicaReport;
}

describe('read replicas on a real streaming replica', () => {
  it("runs a request's reads on the standby and its writes, and the reads after them, on the primary", async () => {
    const n = 50;
    await cluster.resetStatements();
    for (let i = 0; i < n; i++) {
      expect((await app.request('/items', { method: 'POST', json: { title: `w${i}` } })).body).toEqual({ seen: 1, pinned: true });
      const read = await app.request(`/items/count?title=w${i}`);
      expect(read.status).toBe(200);
      expect(read.body.pinned).toBe(false);
    }
    const placed = {
      primary: { inserts: await cluster.calls(cluster.primary, 'hub', INSERT_ITEMS), counts: await cluster.calls(cluster.primary, 'hub', COUNT_ITEMS) },
      standby: { inserts: await cluster.calls(cluster.replica, 'hub', INSERT_ITEMS), counts: await cluster.calls(cluster.replica, 'hub', COUNT_ITEMS) },
    };
    console.log(`replicas: ${n} write requests + ${n} read requests: ${JSON.stringify(placed)} (pg_stat_statements calls)`);
    // every POST's count ran on the primary after its insert; every GET's count on the standby
    expect(placed).toEqual({ primary: { inserts: n, counts: n }, standby: { inserts: 0, counts: n } });
  });

  it('reads its own write within a request while the standby is behind, and skips the standby once it lags beyond maxMs', async () => {
    await cluster.replica.sql('postgres', 'select pg_wal_replay_pause()');
    try {
      expect((await app.request('/items', { method: 'POST', json: { title: 'during-pause' } })).body).toEqual({ seen: 1, pinned: true });
      // another request reads the standby, which is behind but still within maxMs: it does not have the row yet
      expect((await app.request('/items/count?title=during-pause')).body).toEqual({ count: 0, pinned: false });
      expect((await app.request('/items/count?title=during-pause&pin=1')).body).toEqual({ count: 1, pinned: true });

      expect(await waitFor(async () => (await hubReplica()).state === 'lagging', 20_000)).toBe(true);
      const lagging = await hubReplica();
      expect(lagging.lagMs).toBeGreaterThan(MAX_LAG_MS);
      const before = await cluster.calls(cluster.replica, 'hub', COUNT_ITEMS);
      expect((await app.request('/items/count?title=during-pause')).body).toEqual({ count: 1, pinned: false });
      expect(await cluster.calls(cluster.replica, 'hub', COUNT_ITEMS)).toBe(before); // the primary answered
      console.log(`replicas: standby paused: reported ${JSON.stringify(lagging)}; reads went to the primary`);
    } finally {
      await cluster.replica.sql('postgres', 'select pg_wal_replay_resume()');
    }
    expect(await waitFor(async () => (await hubReplica()).state === 'up', 20_000)).toBe(true);
    const before = await cluster.calls(cluster.replica, 'hub', COUNT_ITEMS);
    expect((await app.request('/items/count?title=during-pause')).body).toEqual({ count: 1, pinned: false });
    expect(await cluster.calls(cluster.replica, 'hub', COUNT_ITEMS)).toBe(before + 1);
  }, 60_000);

  it.each<['fast' | 'immediate', string]>([
    ['fast', 'shut down'],
    ['immediate', 'killed'],
  ])('answers every request while the standby is stopped (%s: %s) under load, then uses it again once it is back', async (mode) => {
    const load = startLoadLoop(8, async (worker, seq) => {
      const write = seq % 4 === 0;
      const title = `load-${worker}-${seq}`;
      try {
        const response = await fetch(`${app.url}/items${write ? '' : `/count?title=load-${worker}-${seq - 1}`}`, {
          method: write ? 'POST' : 'GET',
          headers: { 'content-type': 'application/json' },
          body: write ? JSON.stringify({ title }) : undefined,
          signal: AbortSignal.timeout(10_000),
        });
        await response.text();
        return { status: response.status, tenant: 'hub', title };
      } catch (error) {
        return { status: error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network', tenant: 'hub', title };
      }
    });
    await sleep(1_000);
    const readsBefore = await cluster.calls(cluster.replica, 'hub', COUNT_ITEMS);
    const stoppedAt = load.now();
    cluster.replica.stop(mode);
    const down = await waitFor(async () => (await hubReplica()).state === 'down', 10_000);
    await sleep(1_500);
    const outage = { from: stoppedAt, to: load.now() };
    cluster.replica.start();
    const back = await waitFor(async () => (await hubReplica()).state === 'up', 30_000);
    const readsAfterRestart = await cluster.calls(cluster.replica, 'hub', COUNT_ITEMS);
    await sleep(1_000);
    const readsAtEnd = await cluster.calls(cluster.replica, 'hub', COUNT_ITEMS);
    await load.stop();

    const failed = load.outcomes.filter((o) => o.status !== 200 && o.status !== 201);
    const duringOutage = load.outcomes.filter((o) => o.at >= outage.from && o.at <= outage.to);
    console.log(
      `replicas: standby stopped (${mode}) under load: ${load.outcomes.length} requests, ${failed.length} failed ` +
        `(${duringOutage.length} sent while it was down); standby reads: ${readsBefore} before the stop, ` +
        `${readsAtEnd - readsAfterRestart} in the second after it was back`,
    );
    expect(crashes).toEqual([]);
    expect(failed).toEqual([]);
    expect(down).toBe(true);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(readsBefore).toBeGreaterThan(0);
    expect(back).toBe(true);
    expect(readsAtEnd).toBeGreaterThan(readsAfterRestart);
  }, 90_000);

  it("database mode: a tenant's reads run on the standby in the tenant's own database, its writes on the primary", async () => {
    for (const id of ['t1', 't2']) await warmUpTenant(id, 'up');
    await cluster.resetStatements();
    const n = 20;
    for (const id of ['t1', 't2']) {
      for (let i = 0; i < n; i++) {
        const headers = { 'x-tenant-id': id };
        expect((await app.request('/notes', { method: 'POST', json: { title: `${id}-${i}` }, headers })).body).toEqual({ seen: 1 });
        const read = await app.request(`/notes/count?title=${id}-${i}`, { headers });
        expect(read.status).toBe(200);
        expect(read.body.markers).toEqual(read.body.markers.length ? [id] : []); // never another tenant's rows
      }
    }
    const placed: Record<string, unknown> = {};
    for (const id of ['t1', 't2']) {
      const db = `${databasePrefix}_${id}`;
      placed[id] = {
        primary: { inserts: await cluster.calls(cluster.primary, db, INSERT_NOTES), counts: await cluster.calls(cluster.primary, db, COUNT_NOTES) },
        standby: { inserts: await cluster.calls(cluster.replica, db, INSERT_NOTES), counts: await cluster.calls(cluster.replica, db, COUNT_NOTES) },
      };
    }
    console.log(`replicas: database mode, ${n} writes + ${n} reads per tenant: ${JSON.stringify(placed)}`);
    const expected = { primary: { inserts: n, counts: n }, standby: { inserts: 0, counts: n } };
    expect(placed).toEqual({ t1: expected, t2: expected });
  }, 60_000);

  it('database mode: refuses a replica that is another cluster (same database name), and the primary serves that tenant', async () => {
    const report = await warmUpTenant('t3', 'refused');
    expect(report).toMatchObject({ name: 'another-cluster', state: 'refused', reason: expect.stringContaining('system identifier differs') });
    const headers = { 'x-tenant-id': 't3' };
    expect((await app.request('/notes', { method: 'POST', json: { title: 't3-a' }, headers })).body).toEqual({ seen: 1 });
    queries.clear();
    expect((await app.request('/notes/count?title=t3-a', { headers })).body).toEqual({ count: 1, markers: ['t3'] });
    expect(queries.count(COUNT_NOTES)).toEqual({ read: 0, write: 1 });
  }, 60_000);
});

/** Reads as the tenant until its replica reaches `state` (its first check starts with its first read). */
async function warmUpTenant(id: string, state: string): Promise<ReplicaReport | undefined> {
  let report: ReplicaReport | undefined;
  await waitFor(async () => {
    expect((await app.request('/notes/count?title=warm-up', { headers: { 'x-tenant-id': id } })).status).toBe(200);
    report = (await health()).tenants[`tenant:${id}`]?.[0];
    return report?.state === state;
  }, 20_000);
  expect(report?.state).toBe(state);
  return report;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(100);
  }
  return condition();
}
