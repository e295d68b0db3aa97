/**
 * Explicit tenant handles (issue 19): a central admin route (@NoTenant) builds a report over 50 tenants with
 * TenancyService.open, writing one audit note into each through the handle's EntityManager; a tenant request opens
 * another tenant explicitly while its injected EntityManager stays its own. Where every row landed is checked with
 * SQL, in both isolation modes.
 */
import { EntityManager } from '@mikro-orm/postgresql';
import { Controller, Get, Headers, Post } from '@nestjs/common';
import {
  ContextMigrations,
  InjectEntityManager,
  MikroTenancyModule,
  NoTenant,
  RequireTenant,
  TenancyService,
  TenantLifecycle,
  type TenantIsolation,
} from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';

const TENANTS = Array.from({ length: 50 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);

@Controller()
class AdminController {
  constructor(
    private readonly tenancy: TenancyService,
    @InjectEntityManager('tenant') private readonly tenantEm: EntityManager,
  ) {}

  /** Central: counts each tenant's notes and leaves one audit note in each, through explicit handles. */
  @NoTenant()
  @Post('admin/report')
  async report() {
    const rows: { tenant: string; notes: number }[] = [];
    for (const { id } of await this.tenancy.run(async () => [...TENANTS].map((t) => ({ id: t })))) {
      await using tenant = await this.tenancy.open(id);
      const notes = await tenant.em.count(Note);
      tenant.em.create(Note, { title: 'audited', marker: `audit:${tenant.tenant.id}` });
      await tenant.em.flush();
      rows.push({ tenant: tenant.tenant.id, notes });
    }
    return rows;
  }

  /** Central, and uses the injected tenant EntityManager: there is no tenant, so it must fail closed. */
  @NoTenant()
  @Get('admin/oops')
  oops() {
    return this.tenantEm.count(Note);
  }

  /** A tenant request that also writes into another tenant, explicitly. */
  @RequireTenant()
  @Post('copy-to')
  async copyTo(@Headers('x-copy-to') other: string) {
    const own = this.tenancy.current().id;
    await using target = await this.tenancy.open(other);
    target.em.create(Note, { title: `copied from ${own}`, marker: `copy:${other}` });
    await target.em.flush();
    this.tenantEm.create(Note, { title: `copied to ${other}`, marker: `copy:${own}` });
    await this.tenantEm.flush();
    return { own, other, ownCount: await this.tenantEm.count(Note), otherCount: await target.em.count(Note) };
  }
}

describe.each<TenantIsolation>(['schema', 'database'])('explicit tenant handles (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('xt');
  let hubDb: string;
  let app: RunningApp;

  /** Markers of the notes stored in a tenant's own schema or database, read with SQL. */
  const markersIn = async (id: string): Promise<string[]> => {
    const rows =
      isolation === 'schema'
        ? await sql<{ marker: string }>(hubDb, `select marker from "tenant_${id}".note order by id`)
        : await sql<{ marker: string }>(`${databasePrefix}_${id}`, 'select marker from note order by id');
    return rows.map((r) => r.marker);
  };

  beforeAll(async () => {
    hubDb = await databases.create('xthub');
    const options = lifecycleOptions({ isolation, hubDb, databasePrefix });
    app = await startApp({
      imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')],
      controllers: [AdminController],
    });
    await app.app.get(ContextMigrations).up('hub');
    const lifecycle = app.app.get(TenantLifecycle);
    for (let i = 0; i < TENANTS.length; i += 5) await Promise.all(TENANTS.slice(i, i + 5).map((id) => lifecycle.create(id)));
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    await databases.dropAll(databasePrefix);
  });

  it('a central route reports over 50 tenants through explicit handles; each audit note is in its own tenant only', async () => {
    const first = await app.request('/admin/report', { method: 'POST' });
    expect(first.status).toBe(201);
    expect(first.body).toEqual(TENANTS.map((tenant) => ({ tenant, notes: 0 })));
    const second = await app.request('/admin/report', { method: 'POST' });
    expect(second.body).toEqual(TENANTS.map((tenant) => ({ tenant, notes: 1 })));
    for (const id of TENANTS) expect({ id, markers: await markersIn(id) }).toEqual({ id, markers: [`audit:${id}`, `audit:${id}`] });
    if (isolation === 'schema') expect(await sql(hubDb, `select 1 from information_schema.tables where table_schema = 'public' and table_name = 'note'`)).toEqual([]);
  }, 120_000);

  it('a central route refuses a tenant, and its injected tenant EntityManager fails closed', async () => {
    const named = await app.request('/admin/report', { method: 'POST', headers: { 'x-tenant-id': 'r01' } });
    expect(named.status).toBe(400);
    expect(named.body.message).toContain("This route serves no tenant, but the request named tenant 'r01'");
    const oops = await app.request('/admin/oops');
    expect(oops.status).toBe(400);
    expect(oops.body.message).toContain("No tenant is active, so the 'tenant' EntityManager cannot be used here");
  });

  it("a tenant request writes into another tenant only through the handle; its injected EntityManager stays its own", async () => {
    const before = { r03: await markersIn('r03'), r04: await markersIn('r04') };
    const copied = await app.request('/copy-to', { method: 'POST', headers: { 'x-tenant-id': 'r03', 'x-copy-to': 'r04' } });
    expect(copied.status).toBe(201);
    expect(copied.body).toEqual({ own: 'r03', other: 'r04', ownCount: before.r03.length + 1, otherCount: before.r04.length + 1 });
    expect(await markersIn('r03')).toEqual([...before.r03, 'copy:r03']);
    expect(await markersIn('r04')).toEqual([...before.r04, 'copy:r04']);
    // the handle is validated and looked up like a request
    const unknown = await app.request('/copy-to', { method: 'POST', headers: { 'x-tenant-id': 'r03', 'x-copy-to': 'nobody' } });
    expect(unknown.status).toBe(404);
    const invalid = await app.request('/copy-to', { method: 'POST', headers: { 'x-tenant-id': 'r03', 'x-copy-to': 'NOPE!' } });
    expect(invalid.status).toBe(400);
    expect(await markersIn('r03')).toEqual([...before.r03, 'copy:r03']);
  });

  it('run(tenantId, fn) hands fn the tenant and its fork, the one injected EntityManagers resolve to', async () => {
    const tenancy = app.app.get(TenancyService);
    const injected = (app.app.get(AdminController) as unknown as { tenantEm: EntityManager }).tenantEm;
    const before = await markersIn('r05');
    const id = await tenancy.run('r05', async ({ tenant, em }) => {
      em.create(Note, { title: 'made on the run fork', marker: 'run:r05' });
      await injected.flush(); // flushes the same fork: the note is written
      return tenant.id;
    });
    expect(id).toBe('r05');
    expect(await markersIn('r05')).toEqual([...before, 'run:r05']);
  });
});
