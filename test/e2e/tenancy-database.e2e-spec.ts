import { MikroORM } from '@mikro-orm/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { MikroTenancyModule, TenantStores, type MikroTenancyModuleOptions, type TenantPoolOptions } from '../../src/index.js';
import { TenancyRuntime } from '../../src/runtime/tenancy-runtime.js';
import type { DatabaseIsolation } from '../../src/isolation/database/database-isolation.js';
import { hubConfig, tenantTemplate } from '../fixtures/configs.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { PLATFORMS, type Platform, type RunningApp, startApp } from '../support/http-app.js';
import { pick, runConcurrently } from '../support/load.js';
import { TestDatabases, connectionsTo, sql, uniqueName } from '../support/test-databases.js';

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

function tenantApp(platform: Platform, pool: TenantPoolOptions = {}): Promise<RunningApp> {
  const options: MikroTenancyModuleOptions = {
    contexts: { default: hubConfig(hubDb) },
    tenancy: {
      isolation: 'database',
      config: tenantTemplate(hubDb), // template: entities and pool; dbName is replaced per tenant
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
  beforeAll(async () => {
    app = await tenantApp(platform, { maxOpenTenants: 3, connectionsPerTenant: 2 });
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
        return { status: r.status, leaks: r.body?.marker === tenant ? 0 : 1 };
      }
      const r = await app.request(`/notes?pause=${i % 3}`, as(tenant));
      return { status: r.status, leaks: (r.body as Note[]).filter((n) => n.marker !== tenant).length };
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
    expect(peak).toBeLessThanOrEqual(3 * 2); // maxOpenTenants x connectionsPerTenant
    expect(poolOf(app).stats().evicted).toBeGreaterThan(0);
  });

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
