import { MikroORM } from '@mikro-orm/core';
import type { EntityManager as SqlEntityManager } from '@mikro-orm/postgresql';
import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { MikroTenancyModule, TenantStores, type MikroTenancyModuleOptions, type TenantPoolOptions } from '../../src/index.js';
import { TenancyRuntime } from '../../src/runtime/tenancy-runtime.js';
import type { DatabaseIsolation } from '../../src/isolation/database/database-isolation.js';
import { openConnectedOrm } from '../../src/isolation/open-orm.js';
import { tenantOrmOptions } from '../../src/isolation/tenant-isolation.js';
import { hubConfig, tenantTemplate } from '../fixtures/configs.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { PLATFORMS, type Platform, type RunningApp, startApp } from '../support/http-app.js';
import { pick, runConcurrently } from '../support/load.js';
import { TestDatabases, connectionsTo, databaseUrl, sql, uniqueName } from '../support/test-databases.js';

const databases = new TestDatabases();
const TENANTS = ['t1', 't2', 't3', 't4', 't5'];
const dbOf = new Map<string, string>();
let hubDb: string;

beforeAll(async () => {
  hubDb = await databases.create('dbhub');
  const hub = await MikroORM.init(hubConfig(hubDb));
  await hub.schema.create();
  await hub.close();
  for (const tenant of TENANTS) {
    const db = await databases.create(`db_${tenant}`);
    dbOf.set(tenant, db);
    const orm = await MikroORM.init(tenantTemplate(db));
    await orm.schema.create();
    await orm.close();
  }
  // 'ghost' is registered but its database does not exist
  dbOf.set('ghost', uniqueName('missing'));
  databases.track(dbOf.get('ghost') as string); // dropped if a bug ever creates it
});
afterAll(() => databases.dropAll());

/**
 * A pg pool hook (driverOptions.onPoolCreated) counting the connections of every pool it is given, from connect until
 * their socket has closed. With `closeDelayMs`, PostgreSQL learns of a close that much later (the Terminate message
 * waits; Infinity: never sent), as on a busy machine where the old backend is still there when the next one connects.
 */
function trackConnections(closeDelayMs = 0) {
  const connections = { open: 0, peak: 0 };
  const onPoolCreated = (pool: pg.Pool) => {
    pool.on('connect', (client) => {
      connections.peak = Math.max(connections.peak, ++connections.open);
      client.once('end', () => connections.open--);
      if (!closeDelayMs) return;
      const wire = (client as unknown as { connection: { end(): void } }).connection;
      const terminate = wire.end.bind(wire);
      wire.end = () => void (Number.isFinite(closeDelayMs) && setTimeout(terminate, closeDelayMs));
    });
  };
  return { connections, driverOptions: { onPoolCreated } };
}

/** A real Nest Logger that keeps warning lines instead of printing them. */
class CapturingLogger extends Logger {
  readonly warnings: string[] = [];

  override warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

function tenantApp(platform: Platform, pool: TenantPoolOptions = {}, template: object = {}): Promise<RunningApp> {
  const options: MikroTenancyModuleOptions = {
    contexts: { default: hubConfig(hubDb) },
    tenancy: {
      isolation: 'database',
      config: { ...tenantTemplate(hubDb), ...template }, // template: entities and pool; dbName is replaced per tenant
      store: TenantStores.static([...TENANTS, 'ghost']),
      database: (t) => ({ dbName: dbOf.get(t.id) }),
      pool,
    },
  };
  return startApp(
    { imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')], controllers: [NotesController], providers: [NotesService] },
    platform,
  );
}

const poolOf = (app: RunningApp) => (app.app.get(TenancyRuntime).tenants?.isolation as DatabaseIsolation).pool;
const as = (tenant: string) => ({ headers: { 'x-tenant-id': tenant } });
const tenantDbs = () => TENANTS.map((t) => dbOf.get(t) as string);

describe.each(PLATFORMS)('database isolation over HTTP (%s)', (platform) => {
  let app: RunningApp;
  const tracked = trackConnections();
  beforeAll(async () => {
    app = await tenantApp(platform, { maxOpenTenants: 3, connectionsPerTenant: 2 }, { driverOptions: tracked.driverOptions });
  });
  afterAll(() => app?.close());

  it('never serves a row to the wrong tenant under thousands of interleaved requests, within the connection budget', async () => {
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await connectionsTo(tenantDbs()));
        await sleep(20);
      }
    })();
    const results = await runConcurrently(1000, 30, async (i) => {
      const tenant = pick(TENANTS);
      if (i % 2 === 0) {
        const r = await app.request(`/notes?pause=${i % 3}`, { method: 'POST', json: { title: `load-${i}` }, ...as(tenant) });
        return { status: r.status, leaks: r.status < 300 && r.body?.marker !== tenant ? 1 : 0, error: r.status < 300 ? undefined : r.body };
      }
      const r = await app.request(`/notes?pause=${i % 3}`, as(tenant));
      if (r.status >= 300) return { status: r.status, leaks: 0, error: r.body }; // reported below, with its message
      return { status: r.status, leaks: (r.body as Note[]).filter((n) => n.marker !== tenant).length, error: undefined };
    }).finally(() => {
      sampling = false;
    });
    await sampler;
    expect(results.filter((r) => r.status >= 300)).toEqual([]);
    expect(results.reduce((sum, r) => sum + r.leaks, 0)).toBe(0);
    for (const t of TENANTS) {
      expect(await sql(dbOf.get(t) as string, 'select marker from note where marker <> $1', [t])).toEqual([]);
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3 * 2); // maxOpenTenants x connectionsPerTenant, as PostgreSQL sees them
    expect(tracked.connections.peak).toBeLessThanOrEqual(3 * 2); // ... and as the app sees them, at every connect
    expect(poolOf(app).stats().evicted).toBeGreaterThan(0);
  }, 180_000); // a thousand requests, each possibly opening a tenant ORM: minutes, not seconds, on a loaded 2-core machine

  it('isolates an unreachable tenant database: 503 for it, 200 for the others', async () => {
    const [ghost, ...others] = await Promise.all([app.request('/notes', as('ghost')), ...TENANTS.map((t) => app.request('/notes', as(t)))]);
    expect(ghost).toMatchObject({ status: 503 });
    expect(ghost.body.message).toBe("The database of tenant 'ghost' does not exist. This is a set-up step, not an outage: create the tenant with `mikro-tenancy tenant create ghost` (or TenantLifecycle.create), which creates and migrates its database.");
    expect(others.map((r) => r.status)).toEqual(TENANTS.map(() => 200));
    expect(await sql('postgres', 'select 1 from pg_database where datname = $1', [dbOf.get('ghost')])).toEqual([]);
  });
});

describe('the tenant ORM pool', () => {
  it('opens one ORM for 100 concurrent first requests of a tenant', async () => {
    const app = await tenantApp('express');
    try {
      const responses = await Promise.all(Array.from({ length: 100 }, () => app.request('/notes', as('t1'))));
      expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
      expect(poolOf(app).stats()).toMatchObject({ open: 1, opened: 1 });
    } finally {
      await app.close();
    }
  });

  it('evicts the least recently used tenant at maxOpenTenants and closes idle ones', async () => {
    const app = await tenantApp('express', { maxOpenTenants: 2, idleTimeoutMs: 400 });
    try {
      for (const t of ['t1', 't2', 't1', 't3']) expect((await app.request('/notes', as(t))).status).toBe(200);
      expect(poolOf(app).openTenantIds()).toEqual(['t1', 't3']);
      await sleep(100);
      expect(await connectionsTo([dbOf.get('t2') as string])).toBe(0);
      await sleep(1000);
      expect(poolOf(app).openTenantIds()).toEqual([]);
      expect(await connectionsTo(tenantDbs())).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('answers 503 after acquireTimeoutMs when every slot stays busy, then recovers', async () => {
    const app = await tenantApp('express', { maxOpenTenants: 1, acquireTimeoutMs: 300 });
    try {
      const slow = app.request('/slow?ms=1500', as('t1'));
      await sleep(200);
      const started = Date.now();
      const blocked = await app.request('/notes', as('t2'));
      const waited = Date.now() - started;
      expect(blocked.status).toBe(503);
      expect(blocked.body.message).toBe(
        "No tenant connection slot became free within 300 ms for tenant 't2': all 1 open tenant databases are in use. " +
          'Retry later, or raise tenancy.pool.maxOpenTenants (mind max_connections).',
      );
      expect(waited).toBeGreaterThanOrEqual(280);
      expect(waited).toBeLessThan(1200);
      expect((await slow).status).toBe(200);
      expect((await app.request('/notes', as('t2'))).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('closes every tenant ORM on shutdown', async () => {
    const app = await tenantApp('express');
    for (const t of TENANTS) await app.request('/notes', as(t));
    expect(await connectionsTo(tenantDbs())).toBeGreaterThan(0);
    await app.close();
    expect(await connectionsTo([...tenantDbs(), hubDb])).toBe(0);
  });
});

describe('the connection budget counts a connection until PostgreSQL has closed it', () => {
  it("gives an evicted tenant's slot to the next tenant only once PostgreSQL has closed the evicted connections", async () => {
    const tracked = trackConnections(300);
    const app = await tenantApp('express', { maxOpenTenants: 1, connectionsPerTenant: 1 }, { driverOptions: tracked.driverOptions });
    try {
      expect((await app.request('/notes', as('t1'))).status).toBe(200);
      // evicts t1, whose close reaches PostgreSQL 300 ms late: t2 must not connect before
      expect((await app.request('/notes', as('t2'))).status).toBe(200);
      expect(await connectionsTo(tenantDbs())).toBe(1);
      expect(tracked.connections.peak).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('counts a connection node-postgres drops as idle until it has closed, so a tenant stays within connectionsPerTenant', async () => {
    const tracked = trackConnections(300);
    const template = { pool: { max: 4, idleTimeoutMillis: 50 }, driverOptions: tracked.driverOptions };
    const app = await tenantApp('express', { connectionsPerTenant: 1 }, template);
    try {
      expect((await app.request('/notes', as('t1'))).status).toBe(200);
      await sleep(150); // node-postgres has let the idle connection go; PostgreSQL sees its close 200 ms from now
      expect(tracked.connections.open).toBe(1);
      expect((await app.request('/notes', as('t1'))).status).toBe(200);
      expect(await connectionsTo([dbOf.get('t1') as string])).toBe(1);
      expect(tracked.connections.peak).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('stops counting a connection that died mid-transaction (terminated backend, database restart)', async () => {
    const db = dbOf.get('t5') as string;
    const options = tenantOrmOptions({ ...tenantTemplate(db), pool: { max: 1 }, driverOptions: { connectionTimeoutMillis: 1_000 } }, 'budget:t5');
    const orm = await openConnectedOrm(options, new Logger('budget'), "tenant 't5'");
    try {
      // Kysely never releases a connection whose transaction fails: the pool guard releases it once it has ended
      const fork = () => orm.em.fork() as unknown as SqlEntityManager;
      const transaction = fork().transactional((em) => em.execute('select pg_sleep(5)'));
      const terminate = () => sql('postgres', "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and query = 'select pg_sleep(5)'", [db]);
      for (let i = 0; i < 100 && (await terminate()).length === 0; i++) await sleep(20);
      await expect(transaction).rejects.toThrow();
      expect(await fork().execute('select 1 as one')).toEqual([{ one: 1 }]);
      expect(await connectionsTo([db])).toBe(1);
    } finally {
      await orm.close();
    }
  });

  it('closes from this side the connections PostgreSQL has not closed within the close timeout, and says so', async () => {
    const tracked = trackConnections(Infinity);
    const logger = new CapturingLogger('budget');
    const db = dbOf.get('t3') as string;
    const options = tenantOrmOptions({ ...tenantTemplate(db), driverOptions: tracked.driverOptions }, 'budget:t3');
    const orm = await openConnectedOrm(options, logger, "tenant 't3'", 200);
    expect(tracked.connections.open).toBe(1);
    const started = Date.now();
    await orm.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(tracked.connections.open).toBe(0);
    expect(logger.warnings).toEqual(["Closing tenant 't3': PostgreSQL had not closed 1 of its connections within 200 ms; closing them from this side."]);
    for (let i = 0; i < 100 && (await connectionsTo([db])) > 0; i++) await sleep(20); // the server notices the closed socket
    expect(await connectionsTo([db])).toBe(0);
  });

  it('is measured on client connections only, not server processes under the database name (autovacuum, parallel workers)', async () => {
    const db = dbOf.get('t4') as string;
    const client = new pg.Client({ connectionString: databaseUrl(db) });
    await client.connect();
    try {
      await client.query('set debug_parallel_query = on'); // the query runs in a parallel worker, shown under the database
      const running = client.query('select pg_sleep(1.5)');
      const backendTypes = async () =>
        (await sql<{ backend_type: string }>('postgres', 'select backend_type from pg_stat_activity where datname = $1 order by 1', [db])).map((r) => r.backend_type);
      for (let i = 0; i < 50 && !(await backendTypes()).includes('parallel worker'); i++) await sleep(20);
      expect(await backendTypes()).toEqual(['client backend', 'parallel worker']);
      expect(await connectionsTo([db])).toBe(1);
      await running;
    } finally {
      await client.end();
    }
  });
});
