import { MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { fileURLToPath } from 'node:url';
import { TerminusModule } from '@nestjs/terminus';
import { MikroTenancyModule, TenantLifecycle, TenantStores, type MikroTenancyModuleOptions, type TenantIsolation } from '../../src/index.js';
import { TenancyHealthIndicator } from '../../src/health/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { PlacedTenant } from '../fixtures/entities/placed-tenant.entity.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { runConcurrently } from '../support/load.js';
import { type TestPgServer, type TestPgServers, startPgServers } from '../support/pg-servers.js';
import { uniqueName } from '../support/test-databases.js';

/**
 * tenancy.servers: three real PostgreSQL servers (the test server and two embedded clusters), 30 tenants placed by
 * the default policy, look-alike storage with sentinel rows on every server where a misrouted query would land, and
 * one server stopped under load.
 */
const NAMES = ['a', 'b', 'c'];
const TENANTS = Array.from({ length: 30 }, (_, i) => `t${String(i).padStart(2, '0')}`);
const SENTINEL = 'SENTINEL';
const tenantMigrations = fileURLToPath(new URL('../fixtures/migrations/tenant', import.meta.url));

let cluster: TestPgServers;
beforeAll(async () => {
  cluster = await startPgServers(NAMES);
}, 120_000);
afterAll(() => cluster?.stop());

const serverNamed = (name: string): TestPgServer => cluster.servers.find((s) => s.name === name) as TestPgServer;
const connectionOf = (server: TestPgServer) => ({ host: server.host, port: server.port, user: server.user, ...(server.password ? { password: server.password } : {}) });

describe.each<TenantIsolation>(['schema', 'database'])('tenants on several servers (%s isolation)', (isolation) => {
  const hubDb = uniqueName('srvhub');
  /** Schema mode: the database holding tenant schemas on every server. Database mode: the prefix of tenant databases. */
  const tenantsDb = uniqueName('srv');
  const storage = (tenant: string) => (isolation === 'schema' ? `tenant_${tenant}` : `${tenantsDb}_${tenant}`);
  let app: RunningApp;
  let lifecycle: TenantLifecycle<PlacedTenant>;
  const placedOn = new Map<string, string>();

  const a = () => serverNamed('a');
  /** Rows of the tenant's note table on a server (undefined when its storage is not there). */
  const notesOn = async (server: TestPgServer, tenant: string): Promise<{ marker: string; title: string }[] | undefined> => {
    if (isolation === 'schema') {
      const exists = await server.sql(tenantsDb, 'select 1 from pg_namespace where nspname = $1', [storage(tenant)]);
      return exists.length ? server.sql(tenantsDb, `select marker, title from "${storage(tenant)}".note`) : undefined;
    }
    const exists = await server.sql('postgres', 'select 1 from pg_database where datname = $1', [storage(tenant)]);
    return exists.length ? server.sql(storage(tenant), 'select marker, title from note') : undefined;
  };

  function options(): MikroTenancyModuleOptions {
    const common = { metadataProvider: ReflectMetadataProvider, debug: false } as const;
    const servers = Object.fromEntries(cluster.servers.map((server) => [server.name, connectionOf(server)]));
    return {
      contexts: { hub: defineConfig({ ...common, ...connectionOf(a()), dbName: hubDb, entities: [PlacedTenant], pool: { max: 3 } }) },
      tenancy: {
        isolation,
        store: TenantStores.table(PlacedTenant, { context: 'hub' }),
        config: defineConfig({ ...common, ...connectionOf(a()), dbName: tenantsDb, entities: [Note], pool: { max: 3 }, migrations: { path: tenantMigrations, snapshot: false } }),
        database: (tenant) => ({ dbName: storage(tenant.id) }),
        servers,
        pool: { maxOpenTenants: 40, connectionsPerTenant: 1, acquireTimeoutMs: 1500 },
        cacheTtlMs: 60_000,
      },
    };
  }

  beforeAll(async () => {
    await a().sql('postgres', `create database "${hubDb}"`);
    const hub = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOf(a()), dbName: hubDb, entities: [PlacedTenant] }));
    await hub.schema.create();
    await hub.close();
    if (isolation === 'schema') for (const server of cluster.servers) await server.sql('postgres', `create database "${tenantsDb}"`);
    app = await startApp({
      imports: [MikroTenancyModule.forRoot(options()), MikroTenancyModule.forFeature([Note], 'tenant'), TerminusModule],
      controllers: [NotesController],
      providers: [NotesService, TenancyHealthIndicator],
    });
    lifecycle = app.app.get(TenantLifecycle);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    for (const server of cluster.servers) {
      const dbs = await server.sql<{ datname: string }>('postgres', 'select datname from pg_database where starts_with(datname, $1) or datname = $2', [tenantsDb, hubDb]);
      for (const { datname } of dbs) await server.sql('postgres', `drop database if exists "${datname}" with (force)`);
    }
  }, 120_000);

  it('places 30 new tenants on the server with the fewest tenants: 10 on each, each one only there', async () => {
    for (const id of TENANTS) {
      const { tenant } = await lifecycle.create(id);
      placedOn.set(id, tenant.server as string);
    }
    const perServer = NAMES.map((name) => [...placedOn.values()].filter((s) => s === name).length);
    expect(perServer).toEqual([10, 10, 10]);
    const records = await a().sql<{ id: string; server: string }>(hubDb, 'select id, server from placed_tenant order by id');
    expect(records).toEqual(TENANTS.map((id) => ({ id, server: placedOn.get(id) })));
    for (const id of TENANTS) {
      for (const server of cluster.servers) {
        const there = (await notesOn(server, id)) !== undefined;
        expect({ id, server: server.name, there }).toEqual({ id, server: server.name, there: server.name === placedOn.get(id) });
      }
    }
  }, 240_000);

  it('keeps every request on its tenant and its server, with look-alike storage of each tenant on the other servers', async () => {
    // sentinels: where a request routed to the wrong server (or to public) would read or write
    const lookAlikes = isolation === 'schema' ? TENANTS : TENANTS.slice(0, 4);
    for (const id of lookAlikes) {
      for (const server of cluster.servers.filter((s) => s.name !== placedOn.get(id))) {
        if (isolation === 'schema') {
          await server.sql(tenantsDb, `create schema "${storage(id)}"; create table "${storage(id)}".note (id serial primary key, title text not null, marker text not null, created_at timestamptz)`);
          await server.sql(tenantsDb, `insert into "${storage(id)}".note (title, marker) values ('look-alike', '${SENTINEL}')`);
        } else {
          await server.sql('postgres', `create database "${storage(id)}"`);
          await server.sql(storage(id), `create table note (id serial primary key, title text not null, marker text not null, created_at timestamptz); insert into note (title, marker) values ('look-alike', '${SENTINEL}')`);
        }
      }
    }
    if (isolation === 'schema') {
      for (const server of cluster.servers) await server.sql(tenantsDb, `create table public.note (id serial primary key, title text not null, marker text not null, created_at timestamptz); insert into public.note (title, marker) values ('public', '${SENTINEL}')`);
    }

    const acknowledged = new Map<string, string[]>(TENANTS.map((id) => [id, []]));
    const foreign: unknown[] = [];
    const statuses = await runConcurrently(600, 20, async (i) => {
      const tenant = TENANTS[Math.floor(i / 2) % TENANTS.length] as string; // each tenant both writes and reads
      const headers = { 'x-tenant-id': tenant };
      if (i % 2 === 0) {
        const title = `w${i}`;
        const response = await app.request('/notes?pause=1', { method: 'POST', json: { title }, headers });
        if (response.status === 201) acknowledged.get(tenant)?.push(title);
        if (response.body?.marker !== tenant) foreign.push({ tenant, body: response.body });
        return response.status;
      }
      const response = await app.request('/notes?pause=1', { headers });
      for (const note of Array.isArray(response.body) ? response.body : []) if (note.marker !== tenant) foreign.push({ tenant, note });
      return response.status;
    });
    expect(foreign).toEqual([]);
    expect(statuses.filter((s) => s !== 200 && s !== 201)).toEqual([]);

    // judged by SQL on every server: each tenant's rows only on its server, only its own; sentinels untouched
    for (const id of TENANTS) {
      for (const server of cluster.servers) {
        const rows = await notesOn(server, id);
        if (server.name === placedOn.get(id)) {
          expect({ id, markers: [...new Set(rows?.map((r) => r.marker))] }).toEqual({ id, markers: [id] });
          expect(rows?.map((r) => r.title).sort()).toEqual([...(acknowledged.get(id) ?? [])].sort());
        } else if (rows !== undefined) {
          expect({ id, server: server.name, rows }).toEqual({ id, server: server.name, rows: [{ marker: SENTINEL, title: 'look-alike' }] });
        }
      }
    }
    if (isolation === 'schema') {
      for (const server of cluster.servers) expect(await server.sql(tenantsDb, 'select marker from public.note')).toEqual([{ marker: SENTINEL }]);
    }
  }, 240_000);

  it('migrates and reports every tenant on every server', async () => {
    const report = await lifecycle.migrate();
    expect(report.counts).toMatchObject({ failed: 0, migrated: 0 });
    const statuses = await lifecycle.status();
    expect(statuses.filter((s) => s.pending.length || s.error)).toEqual([]);
    expect(statuses.map((s) => s.tenantId).filter((id) => id !== undefined && TENANTS.includes(id))).toEqual(TENANTS);
  }, 120_000);

  it('places a tenant on the server asked for, and refuses a server that is not configured', async () => {
    const { tenant } = await lifecycle.create('explicit', {}, { server: 'c' });
    expect(tenant.server).toBe('c');
    expect(await notesOn(serverNamed('c'), 'explicit')).toEqual([]);
    await expect(lifecycle.create('nowhere', {}, { server: 'zz' })).rejects.toThrow(/not in tenancy\.servers \(configured: a, b, c\)/);
    expect(await a().sql(hubDb, "select 1 from placed_tenant where id = 'nowhere'")).toEqual([]);
  }, 60_000);

  it('refuses a record naming a server that is not configured, without guessing one', async () => {
    await a().sql(hubDb, "insert into placed_tenant (id, suspended, server) values ('typo', false, 'd\n1')");
    const response = await app.request('/notes', { headers: { 'x-tenant-id': 'typo' } });
    expect(response.status).toBe(500);
    expect(JSON.stringify(response.body)).not.toMatch(/d\\n1|tenancy\.servers/);
  });

  it("answers 503 for a stopped server's tenants only, and serves them again once it is back", async () => {
    const c = serverNamed('c');
    const onC = TENANTS.filter((id) => placedOn.get(id) === 'c');
    const elsewhere = TENANTS.filter((id) => placedOn.get(id) !== 'c');
    await c.pause?.();
    try {
      const results = await runConcurrently(240, 12, async (i) => {
        const down = i % 3 === 0;
        const tenant = (down ? onC : elsewhere)[i % (down ? onC.length : elsewhere.length)] as string;
        const started = performance.now();
        const response = await app.request('/notes', { headers: { 'x-tenant-id': tenant } });
        return { down, status: response.status, ms: performance.now() - started, message: String(response.body?.message ?? '') };
      });
      const others = results.filter((r) => !r.down);
      const stopped = results.filter((r) => r.down);
      expect(others.filter((r) => r.status !== 200)).toEqual([]);
      expect(stopped.filter((r) => r.status !== 503)).toEqual([]);
      // bounded by the pool's connect timeout (acquireTimeoutMs / connectionTimeoutMillis), not by the OS
      expect(Math.max(...stopped.map((r) => r.ms))).toBeLessThan(15_000);
      // health: each server listed, the stopped one down, the tenant side still up (the others serve)
      const health = await app.app.get(TenancyHealthIndicator).tenants({ timeoutMs: 3000 });
      const servers = health.tenant?.servers as Record<string, { status: string }>;
      expect(health.tenant?.status).toBe('up');
      const expected = isolation === 'schema' ? { a: 'up', b: 'up', c: 'down' } : { a: 'not pinged', b: 'not pinged', c: 'not pinged' };
      expect(Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, server.status]))).toEqual(expected);
    } finally {
      await c.resume?.();
    }
    const deadline = Date.now() + 30_000;
    let back = 0;
    while (Date.now() < deadline) {
      back = 0;
      for (const id of onC) if ((await app.request('/notes', { headers: { 'x-tenant-id': id } })).status === 200) back += 1;
      if (back === onC.length) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(back).toBe(onC.length);
  }, 120_000);
});
