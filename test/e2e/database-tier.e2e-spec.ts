import { MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { fileURLToPath } from 'node:url';
import { MikroTenancyModule, TenantLifecycle, TenantStores, type MikroTenancyModuleOptions } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { PlacedTenant } from '../fixtures/entities/placed-tenant.entity.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { runConcurrently } from '../support/load.js';
import { TestDatabases, connectionOptions, sql, uniqueName } from '../support/test-databases.js';

/**
 * Schema isolation's database tier: small tenants share the tenant database, a tenant whose record says
 * `tier: 'database'` gets a database of its own holding its schema. Look-alike storage where a misrouted query would
 * land: the big tenant's schema in the shared database, a note table in public of its own database.
 */
const databases = new TestDatabases();
const SMALL = ['s1', 's2', 's3'];
const SENTINEL = 'SENTINEL';
const tenantMigrations = fileURLToPath(new URL('../fixtures/migrations/tenant', import.meta.url));
const prefix = uniqueName('tier');
const bigDb = (id: string) => `${prefix}_${id}`;
let hubDb: string;
let sharedDb: string;
let app: RunningApp;
let lifecycle: TenantLifecycle<PlacedTenant>;
const hookCalls: { id: string; where: string; notes?: string }[] = [];

function options(): MikroTenancyModuleOptions {
  const common = { metadataProvider: ReflectMetadataProvider, debug: false } as const;
  return {
    contexts: { hub: defineConfig({ ...common, ...connectionOptions(hubDb), entities: [PlacedTenant], pool: { max: 3 } }) },
    tenancy: {
      isolation: 'schema',
      store: TenantStores.table(PlacedTenant, { context: 'hub' }),
      config: defineConfig({ ...common, ...connectionOptions(sharedDb), entities: [Note], pool: { max: 3 }, migrations: { path: tenantMigrations, snapshot: false } }),
      databaseTier: { dbName: (tenant) => bigDb(tenant.id) },
      afterStorageCreated: async ({ tenant, em, where }) => {
        // runs on the tenant's own storage, after its migrations: its note table is there and empty
        const [row] = await em.getConnection().execute<{ n: string }[]>(`select count(*)::text as n from "tenant_${tenant.id}".note`);
        hookCalls.push({ id: tenant.id, where, notes: row?.n });
        if (tenant.id === 'hookfail') throw new Error('distribution refused');
      },
      pool: { maxOpenTenants: 2, connectionsPerTenant: 2 },
      cacheTtlMs: 0,
    },
  };
}

beforeAll(async () => {
  hubDb = await databases.create('tierhub');
  sharedDb = await databases.create('tiershared');
  const hub = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(hubDb), entities: [PlacedTenant] }));
  await hub.schema.create();
  await hub.close();
  app = await startApp({ imports: [MikroTenancyModule.forRoot(options()), MikroTenancyModule.forFeature([Note], 'tenant')], controllers: [NotesController], providers: [NotesService] });
  lifecycle = app.app.get(TenantLifecycle);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await databases.dropAll(prefix);
}, 120_000);

const headers = (tenant: string) => ({ 'x-tenant-id': tenant });
const databaseExists = async (name: string) => (await sql('postgres', 'select 1 from pg_database where datname = $1', [name])).length === 1;

it('creates a database-tier tenant in a database of its own, holding its schema, and the others in the shared database', async () => {
  for (const id of SMALL) await lifecycle.create(id);
  const { tenant } = await lifecycle.create('big', { tier: 'database' });
  expect(tenant.tier).toBe('database');
  expect(await databaseExists(bigDb('big'))).toBe(true);
  expect(await sql(bigDb('big'), "select nspname from pg_namespace where nspname like 'tenant\\_%'")).toEqual([{ nspname: 'tenant_big' }]);
  expect(await sql(sharedDb, "select nspname from pg_namespace where nspname like 'tenant\\_%' order by 1")).toEqual(SMALL.map((id) => ({ nspname: `tenant_${id}` })));
  for (const id of SMALL) expect(await databaseExists(bigDb(id))).toBe(false);
});

it('runs afterStorageCreated once per new tenant on its migrated storage, and a failing hook fails the create', async () => {
  expect(hookCalls).toEqual([
    ...SMALL.map((id) => ({ id, where: `schema "tenant_${id}"`, notes: '0' })),
    { id: 'big', where: `database "${bigDb('big')}" (holding schema "tenant_big")`, notes: '0' },
  ]);
  await lifecycle.create('s1'); // registered already: no new storage, no call
  expect(hookCalls).toHaveLength(SMALL.length + 1);
  await expect(lifecycle.create('hookfail')).rejects.toThrow(/distribution refused/);
  expect(await sql(sharedDb, "select 1 from pg_namespace where nspname = 'tenant_hookfail'")).toEqual([]);
  expect(await sql(hubDb, "select 1 from placed_tenant where id = 'hookfail'")).toEqual([]);
});

it('keeps every request in its tier and its tenant, with look-alike storage where a misrouted query would land', async () => {
  await sql(sharedDb, `create schema tenant_big; create table tenant_big.note (id serial primary key, title text not null, marker text not null, created_at timestamptz); insert into tenant_big.note (title, marker) values ('look-alike', '${SENTINEL}')`);
  await sql(bigDb('big'), `create table public.note (id serial primary key, title text not null, marker text not null, created_at timestamptz); insert into public.note (title, marker) values ('public', '${SENTINEL}')`);
  const acknowledged = new Map<string, string[]>([...SMALL, 'big'].map((id) => [id, []]));
  const foreign: unknown[] = [];
  const tenants = [...SMALL, 'big'];
  const statuses = await runConcurrently(400, 16, async (i) => {
    const tenant = tenants[Math.floor(i / 2) % tenants.length] as string;
    if (i % 2 === 0) {
      const title = `w${i}`;
      const response = await app.request('/notes?pause=1', { method: 'POST', json: { title }, headers: headers(tenant) });
      if (response.status === 201) acknowledged.get(tenant)?.push(title);
      if (response.body?.marker !== tenant) foreign.push({ tenant, body: response.body });
      return response.status;
    }
    const response = await app.request('/notes?pause=1', { headers: headers(tenant) });
    for (const note of Array.isArray(response.body) ? response.body : []) if (note.marker !== tenant) foreign.push({ tenant, note });
    return response.status;
  });
  expect(foreign).toEqual([]);
  expect(statuses.filter((s) => s !== 200 && s !== 201)).toEqual([]);
  const big = await sql<{ title: string; marker: string }>(bigDb('big'), 'select title, marker from tenant_big.note');
  expect(new Set(big.map((r) => r.marker))).toEqual(new Set(['big']));
  expect(big.map((r) => r.title).sort()).toEqual([...(acknowledged.get('big') ?? [])].sort());
  for (const id of SMALL) {
    const rows = await sql<{ title: string; marker: string }>(sharedDb, `select title, marker from tenant_${id}.note`);
    expect(rows.map((r) => r.title).sort()).toEqual([...(acknowledged.get(id) ?? [])].sort());
  }
  expect(await sql(sharedDb, 'select marker from tenant_big.note')).toEqual([{ marker: SENTINEL }]);
  expect(await sql(bigDb('big'), 'select marker from public.note')).toEqual([{ marker: SENTINEL }]);
  await sql(sharedDb, 'drop schema tenant_big cascade');
  await sql(bigDb('big'), 'drop table public.note');
});

it('migrates and reports the database-tier tenant with the others', async () => {
  const report = await lifecycle.migrate();
  expect(report.counts).toMatchObject({ failed: 0 });
  const statuses = await lifecycle.status();
  expect(statuses.map((s) => ({ id: s.tenantId, pending: s.pending.length, error: s.error }))).toEqual(
    ['big', ...SMALL].map((id) => ({ id, pending: 0, error: undefined })),
  );
});

it('does not apply a migration to a tenant whose schema is being moved (a move publication covers its tables)', async () => {
  // a migration pending for s1 (its last one reverted), and its table published one by one, as a move does
  expect((await lifecycle.rollback({ tenants: ['s1'] })).counts).toMatchObject({ migrated: 1, failed: 0 });
  await sql(sharedDb, 'create publication nmt_move_0123456789abcdef_pub for table tenant_s1.note, tenant_s2.note');
  try {
    const report = await lifecycle.migrate({ tenants: ['s1', 's2'], continueOnError: true });
    const byId = Object.fromEntries(report.tenants.map((r) => [r.tenantId, r]));
    expect(byId.s1?.status).toBe('failed');
    expect(byId.s1?.error).toMatch(/schema "tenant_s1" is being moved .*Finish the move first/);
    // nothing pending for s2: nothing to refuse
    expect(byId.s2?.status).toBe('up-to-date');
  } finally {
    await sql(sharedDb, 'drop publication nmt_move_0123456789abcdef_pub');
  }
  expect((await lifecycle.migrate({ tenants: ['s1'] })).tenants.map((r) => r.status)).toEqual(['migrated']);
});

it("never serves a database-tier database marked as another tenant's, even when its schema is unmarked", async () => {
  // made by hand: the record of s3 edited to the database tier, where a database marked as tenant 'other' waits
  await sql('postgres', `create database "${bigDb('s3')}"`);
  await sql('postgres', `comment on database "${bigDb('s3')}" is 'nestjs-mikro-tenancy:tenant=other'`);
  await sql(bigDb('s3'), `create schema tenant_s3; create table tenant_s3.note (id serial primary key, title text not null, marker text not null, created_at timestamptz); insert into tenant_s3.note (title, marker) values ('look-alike', '${SENTINEL}')`);
  await sql(hubDb, "update placed_tenant set tier = 'database' where id = 's3'");
  try {
    const response = await app.request('/notes', { headers: headers('s3') });
    expect(response.status).toBe(500);
    expect(JSON.stringify(response.body)).not.toMatch(/SENTINEL|look-alike|other/);
  } finally {
    await sql(hubDb, "update placed_tenant set tier = null where id = 's3'");
    await sql('postgres', `drop database "${bigDb('s3')}" with (force)`);
  }
  expect((await app.request('/notes', { headers: headers('s3') })).status).toBe(200);
});

it('answers 500 naming nothing for a record in a tier the context does not have', async () => {
  await sql(hubDb, "insert into placed_tenant (id, suspended, tier) values ('odd', false, 'planet')");
  const response = await app.request('/notes', { headers: headers('odd') });
  expect(response.status).toBe(500);
  expect(JSON.stringify(response.body)).not.toMatch(/planet|tier/);
  await sql(hubDb, "delete from placed_tenant where id = 'odd'");
});

it('drops a database-tier tenant with its database, leaving the others', async () => {
  const result = await lifecycle.drop('big', { confirm: 'big' });
  expect(result).toMatchObject({ dropped: true, storageExisted: true });
  expect(await databaseExists(bigDb('big'))).toBe(false);
  expect((await app.request('/notes', { headers: headers('big') })).status).toBe(404);
  expect((await app.request('/notes', { headers: headers('s1') })).status).toBe(200);
});
