import { MikroORM } from '@mikro-orm/core';
import {
  MikroTenancyModule,
  TenancyService,
  TenantNotFoundError,
  TenantResolvers,
  TenantStores,
  InvalidTenantIdError,
  type MikroTenancyModuleOptions,
} from '../../src/index.js';
import { hubConfig, tenantTemplate } from '../fixtures/configs.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { Tenant } from '../fixtures/entities/tenant.entity.js';
import { NotesController, NotesService, provisionSchemas } from '../fixtures/tenant-app.js';
import { PLATFORMS, type Platform, type RunningApp, getWithHost, startApp } from '../support/http-app.js';
import { HOSTILE_IDS, pick, runConcurrently } from '../support/load.js';
import { TestDatabases, sql } from '../support/test-databases.js';

const databases = new TestDatabases();
const TENANTS = ['acme', 'globex', 'initech'];
let hubDb: string;

const schemaNames = async (): Promise<string[]> =>
  (await sql<{ nspname: string }>(hubDb, "select nspname from pg_namespace where nspname not like 'pg\\_%' order by 1")).map((r) => r.nspname);

beforeAll(async () => {
  hubDb = await databases.create('hub');
  const hub = await MikroORM.init(hubConfig(hubDb));
  await hub.schema.create();
  await hub.em.fork().insertMany(Tenant, [...TENANTS.map((id) => ({ id, suspended: false })), { id: 'umbrella', suspended: true }]);
  await hub.close();
  const tenants = await MikroORM.init(tenantTemplate(hubDb));
  await provisionSchemas(tenants, TENANTS.map((t) => `tenant_${t}`));
  await tenants.close();
});
afterAll(() => databases.dropAll());

function options(overrides: Partial<NonNullable<MikroTenancyModuleOptions['tenancy']>> = {}): MikroTenancyModuleOptions {
  return {
    contexts: { default: hubConfig(hubDb) },
    tenancy: { isolation: 'schema', config: tenantTemplate(hubDb), store: TenantStores.table(Tenant), ...overrides },
  };
}

function tenantApp(platform: Platform, overrides: Partial<NonNullable<MikroTenancyModuleOptions['tenancy']>> = {}): Promise<RunningApp> {
  return startApp(
    {
      imports: [MikroTenancyModule.forRoot(options(overrides)), MikroTenancyModule.forFeature([Note], 'tenant')],
      controllers: [NotesController],
      providers: [NotesService],
    },
    platform,
  );
}

describe.each(PLATFORMS)('schema isolation over HTTP (%s)', (platform) => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await tenantApp(platform);
  });
  afterAll(() => app?.close());
  const as = (tenant: string) => ({ headers: { 'x-tenant-id': tenant } });

  it("writes into the tenant's schema only", async () => {
    const created = await app.request('/notes', { method: 'POST', json: { title: `hello-${platform}` }, ...as('acme') });
    expect(created.status).toBe(201);
    expect(await sql(hubDb, 'select marker from tenant_acme.note where title = $1', [`hello-${platform}`])).toEqual([{ marker: 'acme' }]);
    expect(await sql(hubDb, 'select 1 from tenant_globex.note where title = $1', [`hello-${platform}`])).toEqual([]);
    expect(await sql(hubDb, "select 1 from information_schema.tables where table_schema = 'public' and table_name = 'note'")).toEqual([]);
  });

  it('routes without a tenant still work; tenant routes say how to send one', async () => {
    expect(await app.request('/health')).toEqual({ status: 200, body: { ok: true } });
    expect(await app.request('/whoami')).toEqual({ status: 200, body: { tenant: null } });
    expect(await app.request('/whoami', as('globex'))).toEqual({ status: 200, body: { tenant: 'globex' } });
    expect(await app.request('/notes')).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'This route needs a tenant and none was sent: send header "x-tenant-id: <tenant>".' },
    });
  });

  it('fails closed when the tenant EntityManager is used without a tenant', async () => {
    const response = await app.request('/unguarded-notes');
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^No tenant is active, so the 'tenant' EntityManager cannot be used here/);
  });

  it('answers 404 for an unknown tenant and 403 for a suspended one', async () => {
    expect(await app.request('/notes', as('nobody'))).toEqual({
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: "Unknown tenant 'nobody': no such tenant is registered in the tenant store." },
    });
    expect(await app.request('/notes', as('umbrella'))).toEqual({
      status: 403,
      body: { statusCode: 403, error: 'Forbidden', message: "Tenant 'umbrella' is suspended." },
    });
  });

  it('rejects hostile ids with a 400 naming the rule, creating nothing', async () => {
    const before = await schemaNames();
    for (const id of [...HOSTILE_IDS, '']) {
      const response = await app.request('/notes', { method: 'POST', json: { title: 'x' }, headers: { 'x-tenant-id': encodeURI(id) } });
      expect({ id, status: response.status }).toEqual({ id, status: 400 });
      expect(response.body.message).toMatch(/^Invalid tenant id: /);
    }
    expect(await schemaNames()).toEqual(before);
  });

  it('never serves a row to the wrong tenant under thousands of interleaved requests', async () => {
    const written = new Map(TENANTS.map((t) => [t, 0]));
    const before = new Map<string, number>();
    for (const t of TENANTS) before.set(t, (await sql(hubDb, `select 1 from tenant_${t}.note`)).length);
    const results = await runConcurrently(1500, 40, async (i) => {
      const tenant = pick(TENANTS);
      const pause = i % 3;
      if (i % 2 === 0) {
        const r = await app.request(`/notes?pause=${pause}`, { method: 'POST', json: { title: `load-${i}` }, ...as(tenant) });
        if (r.status === 201) written.set(tenant, (written.get(tenant) ?? 0) + 1);
        return { tenant, status: r.status, leaks: r.body?.marker === tenant ? 0 : 1 };
      }
      const r = await app.request(`/notes?pause=${pause}`, as(tenant));
      return { tenant, status: r.status, leaks: (r.body as Note[]).filter((n) => n.marker !== tenant).length };
    });
    expect(results.filter((r) => r.status >= 300)).toEqual([]);
    expect(results.reduce((sum, r) => sum + r.leaks, 0)).toBe(0);
    for (const t of TENANTS) {
      const rows = await sql<{ marker: string }>(hubDb, `select marker from tenant_${t}.note`);
      expect(rows.filter((r) => r.marker !== t)).toEqual([]);
      expect(rows.length - (before.get(t) ?? 0)).toBe(written.get(t));
    }
  }, 180_000); // thousands of requests: minutes, not seconds, on a loaded 2-core machine (it once hit the 60 s default at load 7-8)
});

describe('resolvers: subdomain, path and query', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await tenantApp('fastify', {
      resolve: [TenantResolvers.header(), TenantResolvers.subdomain({ baseDomain: 'example.test' }), TenantResolvers.path(), TenantResolvers.query()],
    });
  });
  afterAll(() => app?.close());

  it('finds the tenant in each place, first hit wins', async () => {
    expect((await getWithHost(app.url, '/whoami', 'globex.example.test:8080')).body).toEqual({ tenant: 'globex' });
    expect((await getWithHost(app.url, '/whoami', 'www.example.test')).body).toEqual({ tenant: null });
    expect((await app.request('/whoami?tenant=initech')).body).toEqual({ tenant: 'initech' });
    expect((await app.request('/whoami?tenant=initech', { headers: { 'x-tenant-id': 'acme' } })).body).toEqual({ tenant: 'acme' });
    const byPath = await app.request('/t/globex/notes');
    expect(byPath.status).toBe(200);
    expect((byPath.body as Note[]).every((n) => n.marker === 'globex')).toBe(true);
    expect((await app.request('/t/pg_catalog/notes')).status).toBe(400);
    expect((await getWithHost(app.url, '/whoami', 'a.b.example.test')).status).toBe(400);
  });
});

describe('TenancyService outside HTTP', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await tenantApp('express');
  });
  afterAll(() => app?.close());

  it('runs jobs in a tenant with the same validation and lookup as HTTP', async () => {
    const tenancy = app.app.get(TenancyService);
    const notes = app.app.get(NotesService);
    const note = await tenancy.run('initech', () => notes.add('from a job'));
    expect(note.marker).toBe('initech');
    expect(await sql(hubDb, "select marker from tenant_initech.note where title = 'from a job'")).toEqual([{ marker: 'initech' }]);
    await expect(tenancy.run('nobody', () => notes.list())).rejects.toBeInstanceOf(TenantNotFoundError);
    await expect(tenancy.run('pg_catalog', () => notes.list())).rejects.toBeInstanceOf(InvalidTenantIdError);
    expect(() => tenancy.current()).toThrow(/No tenant is active/);
    const seen: string[] = [];
    await tenancy.forEachTenant(async (t) => void seen.push(`${t.id}:${(await notes.list()).every((n) => n.marker === t.id)}`), { concurrency: 2, tenants: TENANTS });
    expect(seen.sort()).toEqual(TENANTS.map((t) => `${t}:true`));
    const visited: string[] = [];
    await tenancy.forEachTenant((t) => void visited.push(t.id)); // every tenant of the store but the suspended one
    expect(visited.sort()).toEqual([...TENANTS].sort());
  });
});

describe("opt-in injection: 'request'", () => {
  it('injects the real tenant fork per request, isolated', async () => {
    const app = await tenantApp('express', { injection: 'request' });
    try {
      const as = (t: string) => ({ headers: { 'x-tenant-id': t } });
      await runConcurrently(60, 10, async (i) => {
        const t = TENANTS[i % 3] as string;
        expect((await app.request('/notes', { method: 'POST', json: { title: `rs-${i}` }, ...as(t) })).status).toBe(201);
        const list = await app.request('/notes', as(t));
        expect((list.body as Note[]).every((n) => n.marker === t)).toBe(true);
      });
      expect((await app.request('/notes')).status).toBe(400);
    } finally {
      await app.close();
    }
  });
});
