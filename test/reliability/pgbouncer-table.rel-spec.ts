/**
 * Shared tables (`isolation: 'table'`, issue 15) behind a real PgBouncer in transaction mode: every tenant's rows in
 * one `note` table, told apart by `tenant_id`, row-level security keyed on a setting the library sets per
 * transaction (`set_config('nmt.tenant_id', id, true)`). The app is built the real way (MikroTenancyModule, the
 * NestJS HTTP pipeline); its tenant context connects through PgBouncer as a role that row-level security binds (not
 * a superuser, no BYPASSRLS), with 2 server connections for that (database, user) pair. An owner app (the test's
 * superuser) generated and applied the tenant migration first (`TenantLifecycle.migrate()`, a deploy step).
 *
 * Load: 8 clients over 8 tenants, a fixed number of requests (never a duration). Writes run in `em.transactional`
 * with awaits between their queries (an ORM insert, a pause, a raw SQL insert that names no tenant, a pause, ORM
 * and raw reads); reads run outside any transaction (each statement its own implicit transaction) with a pause
 * between an ORM read and a raw read. Meanwhile a plain pg client through the same PgBouncer, as the same role,
 * without any tenant setting, keeps reading the table: since PgBouncer hands it the server connections the tenants'
 * transactions just used (2 of them, proved by their backend pids), any setting that outlived a transaction would
 * show it rows.
 *
 * Judged: every row of every response (ORM and raw, in and out of transactions) is the requesting tenant's (its
 * marker, its tenant_id, and in PostgreSQL its id); the setting inside a tenant's transaction is that tenant; every
 * acknowledged write is in PostgreSQL with the tenant's tenant_id (both the ORM's and the raw insert's); no row
 * anywhere carries a tenant_id that is not its marker; the look-alike rows (a `ghost` tenant, `P1`, the empty id,
 * rows of p1's marker in the wrong tenant) are untouched; the raw client read 0 rows every time and saw no setting.
 * While the load runs, the lifecycle goes through the same PgBouncer: `migrate()` (the shared tables, once, under
 * a transaction-level advisory lock), 6 concurrent creates (each seeded), a drop of one of them after it was
 * written to (its rows deleted in batches, each a transaction carrying its setting) and `status()`; each must
 * complete and leave exactly its effect (hang guard: 90 s, never a duration expected).
 * The one error answer allowed is the documented 503 of a bounded pool wait; none was measured.
 */
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { EntityManager, defineConfig } from '@mikro-orm/postgresql';
import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  ContextMigrations,
  InjectEntityManager,
  MikroTenancyModule,
  type MikroTenancyModuleOptions,
  RequireTenant,
  TenancyService,
  TenantLifecycle,
  TenantStores,
} from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { Tenant } from '../fixtures/entities/tenant.entity.js';
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { startLoadLoop } from './support/load-loop.js';
import { type PgBouncer, orHang, serverCredentials, startPgBouncer, withPgBouncerLogOnFailure } from './support/pgbouncer.js';

const POOL_SIZE = 2;
const HANG_MS = 90_000;
const CLIENTS = 8;
const TENANTS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];
/** Created while the load runs (each seeded with one note); the last one written to, then dropped. */
const BURST = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
const DROPPED = 'n6';
/** Requests of the load, in all (a count, not a time: a slow machine takes longer, it does not do less). */
const REQUESTS = Number(process.env.RELIABILITY_PGBOUNCER_TABLE_REQUESTS ?? 800);
const SETTING = 'nmt.tenant_id';
/** docs/errors.md: the 503 of a request that found no pooled connection within the pool's bounded wait. */
const POOL_WAIT_503 = /^The database is unavailable: no pooled connection became free within the connection timeout/;
const HUB_MIGRATIONS = fileURLToPath(new URL('../fixtures/migrations/hub', import.meta.url));
/** Rows no registered tenant owns, in the same table: other tenant ids, a case variant, the empty id, p1's marker in the wrong tenant. */
const LOOK_ALIKES = [
  { tenantId: 'ghost', title: 'seeded', marker: 'ghost' },
  { tenantId: 'P1', title: 'seeded', marker: 'p1' },
  { tenantId: '', title: 'seeded', marker: 'p1' },
  { tenantId: 'ghost', title: 'w0-0#a', marker: 'p1' },
];

interface NoteRow {
  id: number;
  title: string;
  marker: string;
  tenant_id?: string;
}

/** What a tenant request reports: the ORM's rows, the raw SQL rows (with tenant_id), and the connection it ran on. */
interface Seen {
  tenant: string;
  written?: NoteRow[];
  orm: NoteRow[];
  raw: NoteRow[];
  setting: string | null;
  pid: number;
}

@RequireTenant()
@Controller('tt')
class TableNotesController {
  constructor(
    @InjectEntityManager('tenant') private readonly em: EntityManager,
    private readonly tenancy: TenancyService,
  ) {}

  /** In one transaction: an ORM insert, a pause, a raw insert naming no tenant (PostgreSQL fills tenant_id), a pause, ORM and raw reads. */
  @Post('notes')
  write(@Body() body: { title: string }, @Query('pause') pause?: string): Promise<Seen> {
    const tenant = this.tenancy.current().id;
    const ms = Number(pause ?? 0);
    return this.em.transactional(async (em) => {
      const first = em.create(Note, { title: `${body.title}#a`, marker: tenant });
      await em.flush();
      if (ms) await sleep(ms);
      const [second] = await em.execute<NoteRow[]>('insert into note (title, marker) values (?, ?) returning id, title, marker, tenant_id', [`${body.title}#b`, tenant]);
      if (ms) await sleep(ms);
      const orm = await em.find(Note, {}, { orderBy: { id: 'desc' }, limit: 10 });
      const raw = await em.execute<NoteRow[]>('select id, title, marker, tenant_id from note order by id desc limit 10');
      const [where] = await em.execute<{ setting: string | null; pid: number }[]>(`select current_setting('${SETTING}', true) as setting, pg_backend_pid() as pid`);
      return { tenant, written: [{ id: first.id, title: first.title, marker: first.marker }, second as NoteRow], orm: orm.map(plain), raw, setting: where?.setting ?? null, pid: where?.pid ?? 0 };
    });
  }

  /** Outside a transaction (each statement its own): an ORM read, a pause, a raw read, the setting and the connection. */
  @Get('notes')
  async read(@Query('pause') pause?: string): Promise<Seen> {
    const tenant = this.tenancy.current().id;
    const orm = await this.em.find(Note, {}, { orderBy: { id: 'desc' }, limit: 10 });
    const ms = Number(pause ?? 0);
    if (ms) await sleep(ms);
    const raw = await this.em.execute<NoteRow[]>('select id, title, marker, tenant_id from note order by id desc limit 10');
    const [where] = await this.em.execute<{ setting: string | null; pid: number }[]>(`select current_setting('${SETTING}', true) as setting, pg_backend_pid() as pid`);
    return { tenant, orm: orm.map(plain), raw, setting: where?.setting ?? null, pid: where?.pid ?? 0 };
  }
}

const plain = (n: Note): NoteRow => ({ id: n.id, title: n.title, marker: n.marker });

describe('shared tables behind PgBouncer in transaction mode', () => {
  const databases = new TestDatabases();
  const migrations = migrationsFolder('pgb_table');
  const role = uniqueName('pgb_app').toLowerCase();
  let db: string;
  let bouncer: PgBouncer;
  let app: RunningApp;
  let lookAlikesBefore: unknown[];

  /** The app's contexts through PgBouncer: the hub as the server's user, the tenant context as `tenantUser`. */
  const options = (tenantUser: { user: string; password?: string }, bypassingRole: 'refuse' | 'warn' = 'refuse'): MikroTenancyModuleOptions => {
    const server = serverCredentials();
    const common = { metadataProvider: ReflectMetadataProvider, debug: false, host: bouncer.host, port: bouncer.port, dbName: db } as const;
    return {
      contexts: {
        hub: defineConfig({ ...common, user: server.user, ...(server.password ? { password: server.password } : {}), entities: [Tenant], pool: { max: 3 }, migrations: { path: HUB_MIGRATIONS, snapshot: false } }),
      },
      tenancy: {
        isolation: 'table',
        store: TenantStores.table(Tenant, { context: 'hub' }),
        config: defineConfig({ ...common, ...tenantUser, entities: [Note], pool: { max: 4 }, migrations: { path: migrations.path, snapshotName: '.snapshot-tenant', tableName: 'tenant_migrations' } }),
        sharedTables: { bypassingRole },
        cacheTtlMs: 0,
        seed: (em, record) => em.create(Note, { title: 'seeded', marker: record.id }),
        // docs/production.md, "Several app instances": the listening session goes to PostgreSQL directly
        changes: { listen: { host: server.host, port: server.port } },
      },
    };
  };
  const lookAlikes = () => sql(db, `select xmin::text as v, id, title, marker, tenant_id from note where tenant_id <> all($1) order by id`, [[...TENANTS, ...BURST]]);

  beforeAll(async () => {
    const server = serverCredentials();
    db = await databases.create('pgbtable');
    await sql('postgres', `create role "${role}" login password 'pw'`);
    // the owner (the server's superuser) creates the tables; the app role gets row privileges on them, nothing more
    await sql(
      db,
      `grant usage on schema public to "${role}"; alter default privileges in schema public grant select, insert, update, delete on tables to "${role}"; ` +
        `alter default privileges in schema public grant usage, select on sequences to "${role}"`,
    );
    bouncer = await startPgBouncer({ poolSize: POOL_SIZE, users: [{ name: server.user, password: server.password }, { name: role, password: 'pw' }] });
    await withPgBouncerLogOnFailure(bouncer, async () => {
      // the deploy step, as the owner: hub migrations, then the tenant migration generated and applied once
      const owner = await startApp({ imports: [MikroTenancyModule.forRoot(options({ user: server.user, ...(server.password ? { password: server.password } : {}) }, 'warn')), MikroTenancyModule.forFeature([Note], 'tenant')] });
      try {
        await owner.app.get(ContextMigrations).up('hub');
        expect((await owner.app.get(ContextMigrations).create('tenant')).fileName).not.toBe('');
        const report = await owner.app.get(TenantLifecycle).migrate();
        expect(report.sharedTables?.status).toBe('migrated');
      } finally {
        await owner.close();
      }
      app = await startApp({ imports: [MikroTenancyModule.forRoot(options({ user: role, password: 'pw' })), MikroTenancyModule.forFeature([Note], 'tenant')], controllers: [TableNotesController] });
      for (const id of TENANTS) {
        const created = await orHang(`creating tenant '${id}'`, HANG_MS, app.app.get(TenantLifecycle).create(id));
        expect({ id, created: created.created, migrations: created.migrations }).toEqual({ id, created: true, migrations: [] });
      }
    });
    for (const row of LOOK_ALIKES) await sql(db, 'insert into note (title, marker, tenant_id) values ($1, $2, $3)', [row.title, row.marker, row.tenantId]);
    lookAlikesBefore = await lookAlikes();
    expect(lookAlikesBefore).toHaveLength(LOOK_ALIKES.length);
    const [me] = await sql(db, 'select rolsuper, rolbypassrls from pg_roles where rolname = $1', [role]);
    expect(me).toEqual({ rolsuper: false, rolbypassrls: false });
  }, 4 * HANG_MS);

  afterAll(async () => {
    await bouncer?.stop();
    await app?.close();
    await databases.dropAll();
    await sql('postgres', `drop role if exists "${role}"`).catch(() => undefined);
    migrations.dispose();
  }, 60_000);

  it(`${REQUESTS} concurrent requests over ${TENANTS.length} tenants (transactions with awaits, implicit transactions): 0 foreign rows, 0 lost writes, no setting outlives a transaction`, async () => {
    await withPgBouncerLogOnFailure(bouncer, async () => {
      const foreign: string[] = [];
      const wrongSetting: string[] = [];
      const unexpected: string[] = [];
      const seenIds = new Map<number, Set<string>>();
      const tenantPids = new Set<number>();
      let issued = 0;
      const judge = (tenant: string, what: string, body: Seen) => {
        if (body.tenant !== tenant) foreign.push(`${what} as '${tenant}': served as '${body.tenant}'`);
        if (body.setting !== tenant) wrongSetting.push(`${what} as '${tenant}': setting ${JSON.stringify(body.setting)}`);
        tenantPids.add(body.pid);
        for (const row of [...(body.written ?? []), ...body.orm, ...body.raw]) {
          if (row.marker !== tenant || (row.tenant_id !== undefined && row.tenant_id !== tenant)) foreign.push(`${what} as '${tenant}': ${JSON.stringify(row)}`);
          let by = seenIds.get(row.id);
          if (!by) seenIds.set(row.id, (by = new Set()));
          by.add(tenant);
        }
      };
      const load = startLoadLoop(CLIENTS, async (worker, seq) => {
        const n = issued++;
        if (n >= REQUESTS) {
          await sleep(20); // the count is reached: idle until stopped (an empty outcome, left out below)
          return { status: 0, tenant: '' };
        }
        const tenant = TENANTS[(worker * 3 + seq) % TENANTS.length] as string;
        const headers = { 'x-tenant-id': tenant, 'content-type': 'application/json' };
        const title = `w${worker}-${seq}`;
        const write = seq % 3 !== 2;
        try {
          const response = write
            ? await fetch(`${app.url}/tt/notes?pause=${seq % 4 === 0 ? 0 : 10}`, { method: 'POST', headers, body: JSON.stringify({ title }), signal: AbortSignal.timeout(HANG_MS) })
            : await fetch(`${app.url}/tt/notes?pause=5`, { headers, signal: AbortSignal.timeout(HANG_MS) });
          const body = (await response.json()) as Seen & { message?: string };
          if (response.ok) judge(tenant, write ? `POST ${title}` : 'GET', body);
          else if (!(response.status === 503 && POOL_WAIT_503.test(body.message ?? ''))) unexpected.push(`${write ? `POST ${title}` : 'GET'} as '${tenant}': ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
          return { status: response.status, tenant, ...(write ? { title } : {}) };
        } catch (error) {
          return { status: error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network', tenant };
        }
      });

      // the lifecycle through the same PgBouncer while the load runs
      const lifecycle = app.app.get(TenantLifecycle);
      const operations = (async () => {
        await sleep(500);
        const migrated = await orHang('TenantLifecycle.migrate', HANG_MS, lifecycle.migrate({ concurrency: 4 }));
        const created = await orHang('6 concurrent creates', HANG_MS, Promise.all(BURST.map((id) => lifecycle.create(id))));
        const written = await app.request('/tt/notes', { method: 'POST', headers: { 'x-tenant-id': DROPPED }, json: { title: 'doomed' } });
        const dropped = await orHang('TenantLifecycle.drop', HANG_MS, lifecycle.drop(DROPPED, { confirm: DROPPED }));
        const status = await orHang('TenantLifecycle.status', HANG_MS, lifecycle.status());
        return { migrated, created, written: written.status, dropped, status };
      })();

      // the raw client: the app's role, through the same PgBouncer, no tenant setting; in autocommit and in a transaction
      const probe = new pg.Client({ host: bouncer.host, port: bouncer.port, user: role, password: 'pw', database: db, application_name: 'no-tenant-probe' });
      await probe.connect();
      const probes: { rows: number; setting: string | null; pid: number }[] = [];
      try {
        while (issued < REQUESTS) {
          const inTransaction = probes.length % 2 === 1;
          if (inTransaction) await probe.query('begin');
          const { rows } = await probe.query<{ n: number; setting: string | null; pid: number }>(
            `select (select count(*)::int from note) as n, current_setting('${SETTING}', true) as setting, pg_backend_pid() as pid`,
          );
          const written = await probe.query(`insert into note (title, marker) values ('probe', 'nobody')`).then(
            () => 'written',
            (error: Error) => error.message,
          );
          if (inTransaction) await probe.query('rollback');
          const [row] = rows;
          probes.push({ rows: row?.n ?? -1, setting: row?.setting ?? null, pid: row?.pid ?? 0 });
          if (written === 'written') probes.push({ rows: -1, setting: 'an insert without a tenant was accepted', pid: row?.pid ?? 0 });
          await sleep(2);
        }
      } finally {
        await operations.catch(() => undefined);
        await load.stop();
        await probe.end();
      }
      const ops = await operations;
      process.stdout.write(
        `[pgbouncer table] meanwhile: migrate() ${ops.migrated.sharedTables?.status} for ${ops.migrated.tenants.length} tenants, ${ops.created.length} creates, ` +
          `a write (${ops.written}) then drop of '${DROPPED}' (${ops.dropped.dropped ? 'dropped' : 'not dropped'}), status() of ${ops.status.length} tenants\n`,
      );
      expect({ ok: ops.migrated.ok, shared: ops.migrated.sharedTables?.status, tenants: ops.migrated.tenants.map((t) => `${t.tenantId}:${t.status}`).sort() }).toEqual({
        ok: true,
        shared: 'up-to-date',
        tenants: TENANTS.map((id) => `${id}:up-to-date`),
      });
      expect(ops.created.map((c) => ({ id: c.tenant.id, created: c.created, migrations: c.migrations }))).toEqual(BURST.map((id) => ({ id, created: true, migrations: [] })));
      expect({ written: ops.written, dropped: ops.dropped }).toEqual({ written: 201, dropped: { tenantId: DROPPED, dropped: true, registered: true, storageExisted: true } });
      expect(ops.status.map((s) => `${s.tenantId}:${s.pending.length}:${s.error ?? ''}`).sort()).toEqual([...TENANTS, ...BURST.filter((b) => b !== DROPPED)].sort().map((id) => `${id}:0:`));
      for (const id of BURST.filter((b) => b !== DROPPED)) {
        const seen = await app.request('/tt/notes', { headers: { 'x-tenant-id': id } });
        expect({ id, status: seen.status, rows: (seen.body as Seen).raw?.map((r) => `${r.title}:${r.marker}:${r.tenant_id}`) }).toEqual({ id, status: 200, rows: [`seeded:${id}:${id}`] });
      }
      expect(await sql(db, 'select title from note where tenant_id = $1', [DROPPED])).toEqual([]);
      expect((await app.request('/tt/notes', { headers: { 'x-tenant-id': DROPPED } })).status).toBe(404);

      const outcomes = load.outcomes.filter((o) => o.tenant !== '');
      const statuses: Record<string, number> = {};
      for (const o of outcomes) statuses[String(o.status)] = (statuses[String(o.status)] ?? 0) + 1;
      const probePids = new Set(probes.map((p) => p.pid));
      const leaks = probes.filter((p) => p.rows !== 0 || (p.setting !== null && p.setting !== ''));

      // PostgreSQL's view, as the superuser: every row's tenant_id is its marker (look-alikes aside), every acknowledged write is there under its tenant
      const stored = await sql<NoteRow & { tenant_id: string }>(db, 'select id, title, marker, tenant_id from note order by id');
      const tenantOf = new Map(stored.map((r) => [r.id, r.tenant_id]));
      const lookAlikeIds = new Set((lookAlikesBefore as { id: number }[]).map((r) => r.id));
      const mislabelled = stored.filter((r) => !lookAlikeIds.has(r.id) && (r.tenant_id !== r.marker || ![...TENANTS, ...BURST].includes(r.tenant_id) || r.tenant_id === DROPPED));
      const lost: string[] = [];
      for (const id of TENANTS) {
        const titles = new Set(stored.filter((r) => r.tenant_id === id).map((r) => r.title));
        for (const o of outcomes.filter((x) => x.tenant === id && x.status === 201 && x.title)) {
          for (const title of [`${o.title}#a`, `${o.title}#b`]) if (!titles.has(title)) lost.push(`${id}: ${title}`);
        }
      }
      const foreignIds = [...seenIds].filter(([id, by]) => by.size !== 1 || tenantOf.get(id) !== [...by][0]).map(([id, by]) => `row ${id} (tenant_id ${tenantOf.get(id)}) seen by ${[...by].join(',')}`);
      const acknowledged = outcomes.filter((o) => o.status === 201).length;

      process.stdout.write(
        `[pgbouncer table] pool_size ${POOL_SIZE}, ${TENANTS.length} tenants, ${CLIENTS} clients: ${outcomes.length} requests ${JSON.stringify(statuses)}; ` +
          `${acknowledged} write transactions acknowledged (${2 * acknowledged} rows), ${lost.length} lost; ${foreign.length} foreign rows in responses, ` +
          `${foreignIds.length} rows seen by a tenant they do not belong to, ${wrongSetting.length} wrong settings; ${mislabelled.length} mislabelled rows in PostgreSQL; ` +
          `tenant transactions ran on ${tenantPids.size} server connections; the raw client without a setting made ${probes.length} probes on ${probePids.size} ` +
          `(${[...probePids].filter((p) => tenantPids.has(p)).length} of them used by tenants): ${leaks.length} saw rows or a setting; slowest request ${Math.round(Math.max(...outcomes.map((o) => o.ms)))} ms\n`,
      );

      expect(outcomes).toHaveLength(REQUESTS);
      expect(unexpected.slice(0, 5)).toEqual([]);
      expect(Object.keys(statuses).filter((s) => !['200', '201', '503'].includes(s))).toEqual([]);
      expect(foreign.slice(0, 10)).toEqual([]);
      expect(foreignIds.slice(0, 10)).toEqual([]);
      expect(wrongSetting.slice(0, 10)).toEqual([]);
      expect(mislabelled.slice(0, 10)).toEqual([]);
      expect(lost.slice(0, 10)).toEqual([]);
      expect(leaks.slice(0, 10)).toEqual([]);
      expect(await lookAlikes()).toEqual(lookAlikesBefore);
      // the load really ran through PgBouncer's scarce connections, and the probe shared them with the tenants
      expect(acknowledged).toBeGreaterThan(REQUESTS / 3);
      for (const id of TENANTS) expect({ id, served: outcomes.some((o) => o.tenant === id && o.status === 201) }).toEqual({ id, served: true });
      expect(tenantPids.size).toBeLessThanOrEqual(POOL_SIZE);
      expect(probes.length).toBeGreaterThan(10);
      expect([...probePids].filter((p) => !tenantPids.has(p))).toEqual([]);
    });
  }, 10 * HANG_MS);
});
