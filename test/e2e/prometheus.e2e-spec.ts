/**
 * Metrics (issue 16): TenancyMetricsModule registers prom-client metrics of the tenant side, read here by scraping a
 * real /metrics endpoint: the database-mode ORM pool (open, closing, bound, opened, evictions), units of tenant work
 * running and waiting for a pool slot, refusals by status (503 when the pool is exhausted), per-tenant counts bounded
 * to the busiest tenants plus (other), and lifecycle and migration counters.
 */
import { Controller, Get, Header, type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Registry } from 'prom-client';
import { ContextMigrations, MikroTenancyModule, TenantLifecycle } from '../../src/index.js';
import { TenancyMetricsModule } from '../../src/integrations/prometheus/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { TestDatabases, uniqueName } from '../support/test-databases.js';

const databases = new TestDatabases();
const databasePrefix = uniqueName('pm');
const apps: INestApplication[] = [];

async function boot(hubDb: string, isolation: 'schema' | 'database', registry: Registry): Promise<string> {
  const options = lifecycleOptions({ isolation, hubDb, databasePrefix, changes: false });
  const tenancy = { ...options.tenancy!, pool: { maxOpenTenants: 2, acquireTimeoutMs: 1000 } };
  @Controller()
  class MetricsController {
    @Get('metrics')
    @Header('content-type', registry.contentType)
    metrics() {
      return registry.metrics();
    }
  }
  @Module({
    imports: [
      MikroTenancyModule.forRoot({ ...options, tenancy }),
      MikroTenancyModule.forFeature([Note], 'tenant'),
      TenancyMetricsModule.forRoot({ registry, topTenants: 2 }),
    ],
    controllers: [NotesController, MetricsController],
    providers: [NotesService],
  })
  class MetricsAppModule {}
  const app = await NestFactory.create(MetricsAppModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  apps.push(app);
  return (await app.getUrl()).replace('[::1]', '127.0.0.1');
}

/** One scrape: `name{labels}` -> value, as Prometheus would read it. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1] as string, Number(match[2]));
  }
  return samples;
}
const only = (samples: Map<string, number>, prefix: string) => Object.fromEntries([...samples].filter(([key]) => key.startsWith(prefix)));
const get = (url: string, tenant: string, path = '/notes') => fetch(url + path, { headers: { 'x-tenant-id': tenant } }).then(async (r) => (await r.arrayBuffer(), r.status));

let url: string;
let app: INestApplication;

beforeAll(async () => {
  const hubDb = await databases.create('pmhub');
  url = await boot(hubDb, 'database', new Registry());
  app = apps[0]!;
  await app.get(ContextMigrations).up('hub');
  for (const id of ['pm1', 'pm2', 'pm3', 'pm4', 'pm5']) {
    databases.track(`${databasePrefix}_${id}`);
    await app.get(TenantLifecycle).create(id);
  }
}, 180_000);

afterAll(async () => {
  for (const each of apps) await each.close();
  await databases.dropAll();
});

describe('TenancyMetricsModule (database mode)', () => {
  it('counts units of work per tenant, the busiest by name and the rest as (other), and the pool opening and evicting', async () => {
    for (const [tenant, times] of [['pm1', 5], ['pm2', 4], ['pm3', 3], ['pm4', 1], ['pm5', 1]] as const) {
      for (let i = 0; i < times; i++) expect(await get(url, tenant)).toBe(200);
    }
    const samples = await scrape(url);
    expect(only(samples, 'tenancy_units_total')).toEqual({
      'tenancy_units_total{tenant="pm1"}': 5,
      'tenancy_units_total{tenant="pm2"}': 4,
      'tenancy_units_total{tenant="(other)"}': 5,
    });
    // two slots for five tenants used in turn: every new tenant evicted the least recently used one
    expect(only(samples, 'tenancy_pool_')).toEqual({
      tenancy_pool_open_tenants: 2,
      tenancy_pool_closing_tenants: expect.any(Number),
      tenancy_pool_max_open_tenants: 2,
      tenancy_pool_opened_total: 5,
      tenancy_pool_evictions_total: 3,
    });
    expect(samples.get('tenancy_units_in_flight')).toBe(0);
  });

  it('shows units holding the pool, one waiting for a slot, and the 503 it gets when none frees up in time', async () => {
    const holding = [get(url, 'pm1', '/slow?ms=4000'), get(url, 'pm2', '/slow?ms=4000')];
    let samples = await scrape(url);
    for (let i = 0; i < 300 && samples.get('tenancy_units_in_flight') !== 2; i++) samples = await scrape(url);
    expect(samples.get('tenancy_units_in_flight')).toBe(2);
    const waiting = get(url, 'pm3');
    for (let i = 0; i < 300 && samples.get('tenancy_units_waiting') !== 1; i++) samples = await scrape(url);
    expect(samples.get('tenancy_units_waiting')).toBe(1);
    expect(await waiting).toBe(503);
    expect(await Promise.all(holding)).toEqual([200, 200]);
    samples = await scrape(url);
    expect(samples.get('tenancy_refusals_total{status="503",error="TenantPoolExhaustedError"}')).toBe(1);
    expect(samples.get('tenancy_units_waiting')).toBe(0);
    expect(samples.get('tenancy_units_in_flight')).toBe(0);
  });

  it('counts refusals by status and error class, never by the id that was refused', async () => {
    expect(await get(url, 'nobody')).toBe(404);
    expect(await get(url, 'Bad Id!')).toBe(400);
    await app.get(TenantLifecycle).suspend('pm5');
    expect(await get(url, 'pm5')).toBe(403);
    const samples = await scrape(url);
    expect(only(samples, 'tenancy_refusals_total')).toEqual({
      'tenancy_refusals_total{status="503",error="TenantPoolExhaustedError"}': 1,
      'tenancy_refusals_total{status="404",error="TenantNotFoundError"}': 1,
      'tenancy_refusals_total{status="400",error="InvalidTenantIdError"}': 1,
      'tenancy_refusals_total{status="403",error="TenantSuspendedError"}': 1,
    });
    expect([...samples.keys()].filter((key) => key.includes('nobody') || key.includes('Bad Id'))).toEqual([]);
  });

  it('counts lifecycle operations and per-tenant migrations by outcome', async () => {
    const lifecycle = app.get(TenantLifecycle);
    await lifecycle.migrate();
    await expect(lifecycle.drop('pm4')).rejects.toThrow(/confirm/);
    await lifecycle.resume('pm5');
    const samples = await scrape(url);
    expect(only(samples, 'tenancy_lifecycle_operations_total')).toEqual({
      'tenancy_lifecycle_operations_total{operation="create",outcome="ok"}': 5,
      'tenancy_lifecycle_operations_total{operation="create",outcome="error"}': 0,
      'tenancy_lifecycle_operations_total{operation="suspend",outcome="ok"}': 1,
      'tenancy_lifecycle_operations_total{operation="suspend",outcome="error"}': 0,
      'tenancy_lifecycle_operations_total{operation="drop",outcome="ok"}': 0,
      'tenancy_lifecycle_operations_total{operation="drop",outcome="error"}': 1,
      'tenancy_lifecycle_operations_total{operation="resume",outcome="ok"}': 1,
      'tenancy_lifecycle_operations_total{operation="resume",outcome="error"}': 0,
    });
    // five creates migrated their tenant, then migrate() went over the five again (up to date: ok)
    expect(samples.get('tenancy_tenant_migrations_total{direction="up",outcome="ok"}')).toBe(10);
    expect(samples.get('tenancy_tenant_migrations_total{direction="up",outcome="error"}')).toBe(0);
    expect(samples.get('tenancy_tenant_migration_seconds_total{direction="up"}')).toBeGreaterThan(0);
  });
});

describe('TenancyMetricsModule (schema mode)', () => {
  it('has no pool metrics (one shared ORM), and counts the same units of work', async () => {
    const hubDb = await databases.create('pmschema');
    const schemaUrl = await boot(hubDb, 'schema', new Registry());
    const schemaApp = apps[apps.length - 1]!;
    await schemaApp.get(ContextMigrations).up('hub');
    await schemaApp.get(TenantLifecycle).create('ps1');
    expect(await get(schemaUrl, 'ps1')).toBe(200);
    const samples = await scrape(schemaUrl);
    expect(only(samples, 'tenancy_pool_')).toEqual({});
    expect(only(samples, 'tenancy_units_total')).toEqual({ 'tenancy_units_total{tenant="ps1"}': 1, 'tenancy_units_total{tenant="(other)"}': 0 });
  });
});
