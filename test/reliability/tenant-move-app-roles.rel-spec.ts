/**
 * The tenant lifecycle at APP level (the Nest module, TenantLifecycle, HTTP, two app instances) run by a role that is
 * NOT a superuser, as on a managed PostgreSQL (RDS, Cloud SQL, Azure) where the app never gets SUPERUSER. Two
 * clusters x and y, both wal_level = logical, whose pg_hba asks every role but the bootstrap superuser (the test's
 * own checks) for a password (scram-sha-256). On each, the app's role `app` has exactly the rights
 * docs/moving-tenants.md and docs/servers.md list, no more:
 *  - REPLICATION (a move's source), membership of pg_create_subscription (a move's target, PostgreSQL 16+), CREATEDB
 *    (the database tier: a tenant with a database of its own);
 *  - on x, `CREATE` on the shared tenant database (owned by the DBA role `postgres`: the docs' minimum); on y, the
 *    owner of it; the hub (the tenant store, where the instances LISTEN) is a database of x owned by `app`.
 * Schema isolation with tenancy.servers { x, y } and tenancy.databaseTier. Instance one runs in this process, instance
 * two in a child process (test/reliability/support/move-tiers-instance.ts, lookups cached for 10 min so only the
 * hub's notifications can tell it of a change). Checked by SQL as the superuser: where the tenant's rows are (every
 * acknowledged write at the target, nothing else), sentinel rows where a leak would land (the neighbours' tables,
 * `public.note` of each shared tenant database) untouched, the source and every replication object gone, the record
 * switched; and through HTTP on both instances that the tenant is served from its new place.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import pg from 'pg';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/embedded-postgres.js';
import { moveIdFor, moveNamesOf } from '../../src/isolation/move/move-names.js';
import { MikroTenancyModule, type MikroTenancyModuleOptions, TenantLifecycle, TenantStores } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { PlacedTenant } from '../fixtures/entities/placed-tenant.entity.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import type { TestPgServer } from '../support/pg-servers.js';
import { TsProcess, pollUntil } from './support/child-process.js';
import { MoveNotesController } from './support/move-app.controller.js';
import { type MoveAppClient, MoveAppLoad } from './support/move-app-load.js';
import type { MoveTiersSetup } from './support/move-tiers-options.js';
import { MoveTiersPlaces, type Place } from './support/move-tiers-places.js';
import { newHttpAgent, send } from './support/soak.js';

const APP = 'app';
const APP_PASSWORD = 'app-pw';
const TENANTS_DB = 'tenants';
const HUB_DB = 'hub';
const TIER_PREFIX = 'tier';
const SEED = 20_000;
const HANG_MS = 15_000;
/** A move of 'mover' (20k rows) takes 1-2 s here: one still running after this has hung. */
const MOVE_HANG_MS = 25_000;
const NEIGHBOURS = { stay: 'x', there: 'y' } as const;
const tenantMigrations = fileURLToPath(new URL('../fixtures/migrations/tenant', import.meta.url));

type ServerName = 'x' | 'y';

describe('the tenant lifecycle at app level, run by a role without SUPERUSER (the documented rights only, password authentication)', () => {
  const agent = newHttpAgent();
  const measured: string[] = [];
  /** Every title acknowledged per tenant over all phases: each tenant's table must hold exactly these (plus the seed). */
  const acked = new Map<string, Set<string>>(['mover', ...Object.keys(NEIGHBOURS)].map((t) => [t, new Set()]));
  const loads: MoveAppLoad[] = [];
  let clusters: Partial<Record<ServerName, EmbeddedPostgres>> = {};
  let servers: Record<'hub' | ServerName, TestPgServer>;
  let setup: MoveTiersSetup;
  let places: MoveTiersPlaces;
  let one: RunningApp | undefined;
  let two: TsProcess | undefined;
  let twoUrl: string;
  let lifecycle: TenantLifecycle<PlacedTenant>;
  let hbaDir: string | undefined;

  const urls = () => [one!.url, twoUrl];
  /** The test's own SQL, as the bootstrap superuser (trust). */
  const sqlOn = (name: ServerName, db: string, text: string, values?: unknown[]) => servers[name].sql(db, text, values);
  /** SQL as the app's role, with its password (what the app can do, not what the test can). */
  const asApp = async <R extends pg.QueryResultRow>(name: ServerName, db: string, text: string, values?: unknown[]): Promise<R[]> => {
    const client = new pg.Client({ host: '127.0.0.1', port: servers[name].port, user: APP, password: APP_PASSWORD, database: db });
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  const post = (url: string, tenant: string, title: string) => send(`${url}/notes`, { method: 'POST', headers: { 'x-tenant-id': tenant }, json: { title }, agent });
  const recent = (url: string, tenant: string) => send(`${url}/notes/recent`, { headers: { 'x-tenant-id': tenant }, agent });
  /**
   * Polls a POST through `url` until it answers `status` (a change reaches the other instance through the hub): the
   * last answer. Each try has its own title; one answered 201 is recorded as acknowledged (it is in the table).
   */
  const answersWith = async (url: string, tenant: string, title: string, status: number, timeoutMs = 3_000): Promise<number | string> => {
    const deadline = Date.now() + timeoutMs;
    let last: number | string = 'none';
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const titled = attempt ? `${title}-${attempt}` : title;
      const outcome = await post(url, tenant, titled);
      last = outcome.kind === 'ok' ? outcome.status : outcome.kind;
      if (last === 201) acked.get(tenant)?.add(titled);
      if (last === status) return last;
      await sleep(100);
    }
    return last;
  };
  const startLoad = (label: string, moverWritersPerInstance: number): MoveAppLoad => {
    const clients: MoveAppClient[] = urls().flatMap((url) => [
      ...Array.from({ length: moverWritersPerInstance }, () => ({ url, tenant: 'mover', kind: 'write' as const })),
      { url, tenant: 'mover', kind: 'read' as const },
      ...Object.keys(NEIGHBOURS).map((tenant) => ({ url, tenant, kind: 'write' as const })),
    ]);
    const load = new MoveAppLoad(clients, label, agent);
    loads.push(load);
    return load;
  };
  const role = (name: ServerName) => ({ host: '127.0.0.1', port: servers[name].port, user: APP, password: APP_PASSWORD });

  /** The options of move-tiers-options.ts (which instance two runs), with the hub on x as the app's role. */
  function tenancyOptions(): MikroTenancyModuleOptions {
    const common = { metadataProvider: ReflectMetadataProvider, debug: false } as const;
    return {
      contexts: { hub: defineConfig({ ...common, ...role('x'), dbName: HUB_DB, entities: [PlacedTenant], pool: { max: 3 } }) },
      tenancy: {
        isolation: 'schema',
        store: TenantStores.table(PlacedTenant, { context: 'hub' }),
        config: defineConfig({ ...common, ...role('x'), dbName: TENANTS_DB, entities: [Note], pool: { max: 6 }, migrations: { path: tenantMigrations, snapshot: false } }),
        servers: { x: role('x'), y: role('y') },
        databaseTier: { dbName: (tenant: PlacedTenant) => `${TIER_PREFIX}_${tenant.id}` },
        cacheTtlMs: 600_000,
      },
    } as MikroTenancyModuleOptions;
  }

  /** Rows of the sentinel table `public.note` of the shared tenant database (a leak of an unqualified write lands there). */
  const publicSentinels = async (name: ServerName) => (await sqlOn(name, TENANTS_DB, 'select title, marker from public.note order by id')).map((r) => `${r.title}/${r.marker}`);

  /** 'mover' at `at` holds exactly the seed and every acknowledged write; the neighbours exactly theirs; no leak. */
  async function expectAllAt(at: Place, load?: MoveAppLoad): Promise<void> {
    for (const [tenant, titles] of load?.acked ?? []) for (const title of titles) acked.get(tenant)?.add(title);
    const titles = (await places.titlesAt(at, 'mover', 'p%')) ?? [];
    const there = new Set(titles);
    const lost = [...(acked.get('mover') ?? [])].filter((t) => !there.has(t));
    expect({ at, lost, rows: titles.length }).toEqual({ at, lost: [], rows: acked.get('mover')?.size });
    expect((await places.titlesAt(at, 'mover', 'seed-%'))?.length).toBe(SEED);
    for (const [tenant, on] of Object.entries(NEIGHBOURS)) {
      const rows = (await places.titlesAt({ server: on, tier: 'schema' }, tenant)) ?? [];
      expect({ tenant, rows: [...rows].sort() }).toEqual({ tenant, rows: [...(acked.get(tenant) ?? [])].sort() });
      // every row of a neighbour's table is its own (a leak of 'mover' would land here)
      const markers = await sqlOn(on, TENANTS_DB, `select distinct marker from "tenant_${tenant}".note`);
      expect({ tenant, markers: markers.map((m) => m.marker) }).toEqual({ tenant, markers: [tenant] });
    }
    for (const name of ['x', 'y'] as const) expect({ name, sentinels: await publicSentinels(name) }).toEqual({ name, sentinels: [`sentinel-${name}/nobody`] });
    if (load) {
      for (const tenant of Object.keys(NEIGHBOURS)) {
        expect(load.acked.get(tenant)?.length).toBeGreaterThan(0);
        expect({ tenant, unexpected: load.unexpectedOf(tenant) }).toEqual({ tenant, unexpected: {} });
      }
      expect(load.foreign).toEqual([]);
      // 'mover' sees at most a 503 (a request held past 10 s, or one that reached the renamed source), never a 500
      expect({ unexpected: load.unexpectedOf('mover', ['503']), samples: load.samples.filter((s) => (s as { outcome: { status?: number } }).outcome.status !== 503) }).toEqual({
        unexpected: {},
        samples: [],
      });
    }
  }

  /** The record names `at`; 'mover' is only there; no replication object, parked copy or tier database is left. */
  async function expectOnlyAt(at: Place): Promise<void> {
    expect(await places.recordOf('mover')).toEqual(at);
    const expected = places.expectedStates('mover', at, { x: ['stay'], y: ['there'] });
    expect({ x: await places.stateOf('x'), y: await places.stateOf('y') }).toEqual(expected);
  }

  /** A write through each instance lands at `at` and is read back: both serve the tenant from there. */
  async function expectServedFrom(at: Place, label: string): Promise<void> {
    for (const [instance, url] of [['two', twoUrl], ['one', one!.url]] as const) {
      const title = `${label}-via-${instance}`;
      expect({ instance, outcome: await post(url, 'mover', title) }).toMatchObject({ instance, outcome: { kind: 'ok', status: 201 } });
      acked.get('mover')?.add(title);
      expect({ instance, rows: await places.titlesAt(at, 'mover', title) }).toEqual({ instance, rows: [title] });
      expect({ instance, outcome: await recent(url, 'mover') }).toMatchObject({
        instance,
        outcome: { kind: 'ok', status: 200, body: expect.arrayContaining([expect.objectContaining({ title, marker: 'mover' })]) },
      });
    }
  }

  /**
   * What a move of `tenant`'s schema (shared tier) from `from` to `to` has on the servers, by the move's own names
   * (another move's objects never count): the record, the schema, parked copy, publication and slot on the
   * source, the schema and subscription on the target.
   */
  async function moveLeftovers(tenant: string, from: Place, to: Place) {
    const schema = `tenant_${tenant}`;
    const names = moveNamesOf(schema, moveIdFor(schema, `${to.server}/${to.tier}`));
    const [source] = await sqlOn(
      from.server,
      TENANTS_DB,
      `select exists(select 1 from pg_namespace where nspname = $1) as schema, exists(select 1 from pg_namespace where nspname = $2) as parked,
              exists(select 1 from pg_publication where pubname = $3) as publication, exists(select 1 from pg_replication_slots where slot_name = $4) as slot`,
      [schema, names.parkedSchema, names.publication, names.subscription],
    );
    const [target] = await sqlOn(
      to.server,
      TENANTS_DB,
      `select exists(select 1 from pg_namespace where nspname = $1) as schema, exists(select 1 from pg_subscription where subname = $2) as subscription`,
      [schema, names.subscription],
    );
    const [record] = await sqlOn('x', HUB_DB, 'select server from placed_tenant where id = $1', [tenant]);
    return { record: record?.server, source, target };
  }

  /** A move refused before it created anything: the tenant only on `from`, its record unchanged. */
  const untouched = (from: ServerName) => ({
    record: from,
    source: { schema: true, parked: false, publication: false, slot: false },
    target: { schema: false, subscription: false },
  });

  /** `tenant` moved from `from` to `to`: all of `rows` there and nothing else, nothing of the move left, served from there by both instances. */
  async function expectMovedAlone(tenant: string, from: Place, to: Place, rows: Set<string>): Promise<void> {
    expect(await moveLeftovers(tenant, from, to)).toEqual({
      record: to.server,
      source: { schema: false, parked: false, publication: false, slot: false },
      target: { schema: true, subscription: false },
    });
    for (const [instance, url] of [['one', one!.url], ['two', twoUrl]] as const) {
      const title = `${tenant}-after-${instance}`;
      expect({ instance, outcome: await post(url, tenant, title) }).toMatchObject({ instance, outcome: { kind: 'ok', status: 201 } });
      rows.add(title);
    }
    const there = await sqlOn(to.server, TENANTS_DB, `select title, marker from "tenant_${tenant}".note`);
    expect({ tenant, titles: there.map((r) => r.title).sort(), markers: [...new Set(there.map((r) => r.marker))] }).toEqual({ tenant, titles: [...rows].sort(), markers: [tenant] });
    for (const name of ['x', 'y'] as const) expect({ name, sentinels: await publicSentinels(name) }).toEqual({ name, sentinels: [`sentinel-${name}/nobody`] });
  }

  async function moveUnderLoad(from: Place, to: Place, label: string): Promise<void> {
    const load = startLoad(label, 1);
    await sleep(800);
    const started = performance.now();
    // only a hang fails on time (the move goes on in the background then; the file's later tests do not use 'mover')
    const result = await Promise.race([lifecycle.move('mover', to), sleep(MOVE_HANG_MS, undefined, { ref: false }).then(() => Promise.reject(new Error(`the move did not finish within ${MOVE_HANG_MS} ms`)))]);
    const moveMs = Math.round(performance.now() - started);
    await sleep(800); // the writers go on, at the new place
    await load.stop();

    expect(result).toMatchObject({ tenantId: 'mover', from, to, moved: true, tables: 2 });
    expect(result.rows).toBeGreaterThan(SEED);
    expect(result.pausedMs).toBeLessThan(HANG_MS);
    expect(load.longestWriteGap('mover')).toBeLessThan(HANG_MS);
    expect(load.acked.get('mover')?.length).toBeGreaterThan(0);
    await expectAllAt(to, load);
    await expectOnlyAt(to);
    await expectServedFrom(to, `${label}-after`);
    measured.push(
      `${from.server}/${from.tier} -> ${to.server}/${to.tier}: move ${moveMs} ms, writes paused ${result.pausedMs} ms, fence attempts ${result.fenceAttempts}, ` +
        `longest writer gap ${load.longestWriteGap('mover')} ms; answers ${JSON.stringify(Object.fromEntries(['mover', ...Object.keys(NEIGHBOURS)].map((t) => [t, load.statusesOf(t)])))}`,
    );
  }

  /**
   * Fills a tenant's table and makes autovacuum work on it slowly (as it does on a big tenant's table): an
   * autovacuum worker then holds a lock on the table, and is connected to `db`, for a long while.
   */
  async function autovacuumBusyOn(name: ServerName, db: string, schema: string): Promise<void> {
    await sqlOn(name, db, `insert into "${schema}".note (title, marker) select 'bulk-' || g, 'bulk' from generate_series(1, 60000) g;
      alter table "${schema}".note set (autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1, autovacuum_vacuum_threshold = 0,
        autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_insert_threshold = 0, autovacuum_vacuum_insert_scale_factor = 0, autovacuum_analyze_threshold = 1000000000);
      delete from "${schema}".note where right(title, 1) in ('1', '3', '5', '7', '9')`);
    const vacuuming = async () =>
      (await sqlOn(name, 'postgres', `select 1 from pg_stat_activity where backend_type = 'autovacuum worker' and datname = $1 and query like $2`, [db, `%${schema}.note%`])).length > 0;
    expect({ autovacuumOn: `${db}/${schema}`, running: await pollUntil(vacuuming, 20_000, 100) }).toEqual({ autovacuumOn: `${db}/${schema}`, running: true });
  }

  const settled = <R>(promise: Promise<R>): Promise<R | { error: string }> => promise.catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));

  beforeAll(async () => {
    const dir = (hbaDir = mkdtempSync(join(tmpdir(), 'nmt-hba-')));
    chmodSync(dir, 0o755); // the server may run as another OS user (postgres, when the tests run as root)
    const hba = join(dir, 'pg_hba.conf');
    // the bootstrap superuser (the test's checks) by trust; every other role, the app's included, with a password
    writeFileSync(hba, ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256', 'host replication all 127.0.0.1/32 scram-sha-256', ''].join('\n'));
    chmodSync(hba, 0o644);
    const [x, y] = await Promise.all([0, 1].map(() => startEmbeddedPostgres({ settings: { wal_level: 'logical', hba_file: hba, autovacuum_naptime: 1 } })));
    clusters = { x: x!, y: y! };
    const serverOf = (name: 'hub' | ServerName, url: string): TestPgServer => {
      const port = Number(new URL(url).port);
      return {
        name,
        host: '127.0.0.1',
        port,
        user: 'postgres',
        sql: async (db, text, values) => {
          const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: db });
          await client.connect();
          try {
            return (await client.query(text, values)).rows;
          } finally {
            await client.end();
          }
        },
      };
    };
    servers = { hub: serverOf('hub', x!.url), x: serverOf('x', x!.url), y: serverOf('y', y!.url) };

    // the documented rights: REPLICATION (source), pg_create_subscription (target), CREATEDB (database tier)
    for (const name of ['x', 'y'] as const) {
      await sqlOn(name, 'postgres', `create role ${APP} login password '${APP_PASSWORD}' replication createdb in role pg_create_subscription`);
    }
    // x: the shared tenant database belongs to the DBA role; the app has CREATE on it (what the docs ask)
    await sqlOn('x', 'postgres', `create database ${TENANTS_DB}`);
    await sqlOn('x', TENANTS_DB, `grant create on database ${TENANTS_DB} to ${APP}`);
    await sqlOn('x', 'postgres', `create database ${HUB_DB} owner ${APP}`);
    // y: the app's role owns the shared tenant database
    await sqlOn('y', 'postgres', `create database ${TENANTS_DB} owner ${APP}`);
    // sentinels where an unqualified (leaked) write would land: public.note of each shared tenant database, writable by the app
    for (const name of ['x', 'y'] as const) {
      await sqlOn(name, TENANTS_DB, `create table public.note (id serial primary key, title varchar(255) not null, marker varchar(255) not null, created_at timestamptz not null default now());
        insert into public.note (title, marker) values ('sentinel-${name}', 'nobody');
        grant select, insert, update, delete on public.note to ${APP}; grant usage on sequence public.note_id_seq to ${APP}`);
    }
    const hub = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...role('x'), dbName: HUB_DB, entities: [PlacedTenant] }));
    await hub.schema.create();
    await hub.close();

    setup = { hubDb: HUB_DB, tenantsDb: TENANTS_DB, tierDbPrefix: TIER_PREFIX, servers: { x: role('x'), y: role('y') } };
    places = new MoveTiersPlaces(servers, setup);
    one = await startApp({ imports: [MikroTenancyModule.forRoot(tenancyOptions()), MikroTenancyModule.forFeature([Note], 'tenant')], controllers: [MoveNotesController] });
    lifecycle = one.app.get(TenantLifecycle);
    // instance two: its hub (connectionOptions of TEST_DATABASE_URL) is x's hub database, as the app's role
    const hubUrl = `postgresql://${APP}:${APP_PASSWORD}@127.0.0.1:${servers.x.port}/postgres`;
    two = new TsProcess('test/reliability/support/move-tiers-instance.ts', [], { MOVE_TIERS_SETUP: JSON.stringify(setup), TEST_DATABASE_URL: hubUrl, PGAPPNAME: 'roles-app-two' });
    await two.waitFor(() => /LISTENING (\S+)\n/.test(two!.stdout), 'instance two to listen', 60_000);
    twoUrl = /LISTENING (\S+)\n/.exec(two.stdout)?.[1] as string;
  }, 120_000);

  afterEach(async () => {
    await Promise.all(loads.splice(0).map((load) => load.stop()));
  });

  afterAll(async () => {
    process.stdout.write(`[tenant lifecycle as a role without SUPERUSER] ${SEED} seed notes, two instances over HTTP:\n  ${measured.join('\n  ')}\n`);
    two?.kill('SIGTERM');
    await two?.exited;
    await one?.close();
    agent.destroy();
    await Promise.all(Object.values(clusters).map((c) => c.stop()));
    if (hbaDir) rmSync(hbaDir, { recursive: true, force: true });
  }, 60_000);

  it('the app logs in as a role that is neither superuser nor able to skip its password, with the documented rights', async () => {
    for (const name of ['x', 'y'] as const) {
      const [rights] = await sqlOn(
        name,
        'postgres',
        `select rolsuper, rolbypassrls, rolreplication, rolcreatedb, rolcreaterole, pg_has_role(oid, 'pg_create_subscription', 'member') as subscribes,
                pg_has_role(oid, 'pg_signal_backend', 'member') as signals from pg_roles where rolname = $1`,
        [APP],
      );
      expect({ name, rights }).toEqual({ name, rights: { rolsuper: false, rolbypassrls: false, rolreplication: true, rolcreatedb: true, rolcreaterole: false, subscribes: true, signals: false } });
    }
    const noPassword = new pg.Client({ host: '127.0.0.1', port: servers.x.port, user: APP, database: TENANTS_DB });
    await expect(noPassword.connect()).rejects.toThrow(/password/);
    await noPassword.end().catch(() => undefined);
    expect(await asApp('x', TENANTS_DB, 'select current_user as who')).toEqual([{ who: APP }]);
  });

  it('creates tenants on both servers and in both tiers, serves them through both instances, migrates them (down and up)', async () => {
    for (const [tenant, server] of [['mover', 'x'], ['stay', 'x'], ['there', 'y']] as const) {
      const { tenant: created } = await lifecycle.create(tenant, {}, { server });
      expect(created).toMatchObject({ id: tenant, server });
    }
    const { tenant: big } = await lifecycle.create('big', { tier: 'database' }, { server: 'y' });
    expect(big).toMatchObject({ id: 'big', server: 'y', tier: 'database' });
    // each schema (and the tier database) belongs to the app's role, and carries the tenant's mark
    for (const [tenant, server] of [['mover', 'x'], ['stay', 'x'], ['there', 'y']] as const) {
      const rows = await sqlOn(server, TENANTS_DB, `select pg_get_userbyid(nspowner) as owner, obj_description(oid, 'pg_namespace') as mark from pg_namespace where nspname = $1`, [`tenant_${tenant}`]);
      expect({ tenant, rows }).toEqual({ tenant, rows: [{ owner: APP, mark: `nestjs-mikro-tenancy:tenant=${tenant}` }] });
    }
    expect(await sqlOn('y', 'postgres', `select pg_get_userbyid(datdba) as owner, shobj_description(oid, 'pg_database') as mark from pg_database where datname = 'tier_big'`)).toEqual([
      { owner: APP, mark: 'nestjs-mikro-tenancy:tenant=big' },
    ]);
    await sqlOn('x', TENANTS_DB, `insert into tenant_mover.note (title, marker) select 'seed-' || g, 'mover' from generate_series(1, ${SEED}) g; analyze tenant_mover.note`);

    // every tenant (both servers, both tiers) served through both instances
    for (const [instance, url] of [['one', one!.url], ['two', twoUrl]] as const) {
      for (const tenant of ['mover', 'stay', 'there', 'big']) {
        const title = `p0-${tenant}-${instance}`;
        expect({ instance, tenant, outcome: await post(url, tenant, title) }).toMatchObject({ instance, tenant, outcome: { kind: 'ok', status: 201 } });
        acked.get(tenant)?.add(title);
      }
    }
    expect((await sqlOn('y', 'tier_big', 'select title, marker from tenant_big.note order by id')).map((r) => `${r.title}/${r.marker}`)).toEqual(['p0-big-one/big', 'p0-big-two/big']);

    // one migration down and up again on every tenant, by the app's role
    const column = async (server: ServerName, db: string, schema: string) =>
      (await sqlOn(server, db, `select 1 from information_schema.columns where table_schema = $1 and table_name = 'note' and column_name = 'created_at'`, [schema])).length;
    const down = await lifecycle.rollback();
    expect({ ok: down.ok, failed: down.tenants.filter((t) => t.status === 'failed') }).toEqual({ ok: true, failed: [] });
    expect(down.tenants.map((t) => [t.tenantId, t.status]).sort()).toEqual([['big', 'migrated'], ['mover', 'migrated'], ['stay', 'migrated'], ['there', 'migrated']]);
    expect([await column('x', TENANTS_DB, 'tenant_mover'), await column('y', 'tier_big', 'tenant_big')]).toEqual([0, 0]);
    const up = await lifecycle.migrate();
    expect({ ok: up.ok, failed: up.tenants.filter((t) => t.status === 'failed') }).toEqual({ ok: true, failed: [] });
    expect(up.tenants.map((t) => [t.tenantId, t.status, t.migrations.length]).sort()).toEqual([['big', 'migrated', 1], ['mover', 'migrated', 1], ['stay', 'migrated', 1], ['there', 'migrated', 1]]);
    expect([await column('x', TENANTS_DB, 'tenant_mover'), await column('y', TENANTS_DB, 'tenant_there'), await column('y', 'tier_big', 'tenant_big')]).toEqual([1, 1, 1]);

    await expectAllAt({ server: 'x', tier: 'schema' });
    // before its first move the record names no tier (the shared one)
    expect(await places.recordOf('mover')).toEqual({ server: 'x', tier: null });
    const expected = places.expectedStates('mover', { server: 'x', tier: 'schema' }, { x: ['stay'], y: ['there'] });
    expected.y.tierDatabases = { tier_big: { schemas: 'tenant_big', publications: '0' } };
    expect({ x: await places.stateOf('x'), y: await places.stateOf('y') }).toEqual(expected);
  }, 60_000);

  it("both instances listen for the hub's tenant changes once they serve a tenant (the hub asks the app's role for its password)", async () => {
    // each instance keeps one session LISTENing on the hub from its first unit of tenant work (its last statement:
    // LISTEN, or its own test notification); without it the other instances never hear a move, suspend or drop
    const listeners = async () =>
      (await sqlOn('x', HUB_DB, `select 1 from pg_stat_activity where datname = $1 and usename = $2 and (query like 'listen %' or query = 'select pg_notify($1, $2)')`, [HUB_DB, APP])).length;
    const listening = await pollUntil(async () => (await listeners()) === 2, 15_000, 100);
    expect({ listeningSessions: await listeners(), listening }).toEqual({ listeningSessions: 2, listening: true });
  }, 30_000);

  it('suspends and resumes a tenant on every instance; a database-tier tenant dropped by the app is gone on every instance', async () => {
    // instance two hears each change through the hub (its lookups are cached for 10 min); everything is done before
    // anything is asserted, so that a failure here leaves 'stay' resumed for the next tests
    await lifecycle.suspend('stay');
    const suspended = { one: await answersWith(one!.url, 'stay', 'p0-suspended-one', 403), two: await answersWith(twoUrl, 'stay', 'p0-suspended-two', 403) };
    await lifecycle.resume('stay');
    const resumed = { one: await answersWith(one!.url, 'stay', 'p0-resumed-one', 201), two: await answersWith(twoUrl, 'stay', 'p0-resumed-two', 201) };
    // a database-tier tenant dropped by the app's role (both instances had it open): its database goes
    const dropped = await settled(lifecycle.drop('big', { confirm: 'big' }));
    const database = await sqlOn('y', 'postgres', `select datname from pg_database where datname = 'tier_big'`);
    const afterDrop = { one: await answersWith(one!.url, 'big', 'p0-after-drop', 404), two: await answersWith(twoUrl, 'big', 'p0-after-drop', 404) };
    expect({ suspended, resumed, dropped, database, afterDrop }).toEqual({
      suspended: { one: 403, two: 403 },
      resumed: { one: 201, two: 201 },
      dropped: { tenantId: 'big', dropped: true, registered: true, storageExisted: true },
      database: [],
      afterDrop: { one: 404, two: 404 },
    });
    await expectAllAt({ server: 'x', tier: 'schema' });
    expect({ x: await places.stateOf('x'), y: await places.stateOf('y') }).toEqual(places.expectedStates('mover', { server: 'x', tier: 'schema' }, { x: ['stay'], y: ['there'] }));
  }, 30_000);

  it('moves a tenant from server x to server y under writes through both instances: nothing lost, served from y, nothing left on x', async () => {
    await moveUnderLoad({ server: 'x', tier: 'schema' }, { server: 'y', tier: 'schema' }, 'p1');
  }, 60_000);

  it('moves it into a database of its own on the same server (y; created by the move with CREATEDB) under writes', async () => {
    await moveUnderLoad({ server: 'y', tier: 'schema' }, { server: 'y', tier: 'database' }, 'p2');
  }, 60_000);

  it('moves it across servers and tiers at once, from its database on y to the shared database of x; its database on y is dropped', async () => {
    await moveUnderLoad({ server: 'y', tier: 'database' }, { server: 'x', tier: 'schema' }, 'p3');
    expect(await sqlOn('y', 'postgres', `select datname from pg_database where datname like 'tier\\_%'`)).toEqual([]);
  }, 60_000);

  it('drops a schema tenant while autovacuum works on its table: the drop succeeds, the neighbours are untouched', async () => {
    await lifecycle.create('heavy', {}, { server: 'y' });
    try {
      await autovacuumBusyOn('y', TENANTS_DB, 'tenant_heavy');
      const dropped = await settled(lifecycle.drop('heavy', { confirm: 'heavy', drainTimeoutMs: 500 }));
      measured.push(`drop of a schema tenant while autovacuum works on its table: ${JSON.stringify(dropped)}`);
      expect(dropped).toEqual({ tenantId: 'heavy', dropped: true, registered: true, storageExisted: true });
      expect(await sqlOn('y', TENANTS_DB, `select nspname from pg_namespace where nspname = 'tenant_heavy'`)).toEqual([]);
      expect(await post(one!.url, 'heavy', 'p4-after-drop')).toMatchObject({ kind: 'ok', status: 404 });
      await expectAllAt({ server: 'x', tier: 'schema' });
    } finally {
      // what a failed drop left, removed by the DBA, so the next tests start from the expected state
      await sqlOn('y', TENANTS_DB, 'drop schema if exists tenant_heavy cascade');
      await sqlOn('x', HUB_DB, `delete from placed_tenant where id = 'heavy'`);
    }
  }, 60_000);

  it('drops a database-tier tenant while autovacuum works in its database: the drop succeeds', async () => {
    await lifecycle.create('bulky', { tier: 'database' }, { server: 'x' });
    try {
      await autovacuumBusyOn('x', `${TIER_PREFIX}_bulky`, 'tenant_bulky');
      const dropped = await settled(lifecycle.drop('bulky', { confirm: 'bulky', drainTimeoutMs: 500 }));
      measured.push(`drop of a database-tier tenant while autovacuum works in its database: ${JSON.stringify(dropped)}`);
      expect(dropped).toEqual({ tenantId: 'bulky', dropped: true, registered: true, storageExisted: true });
      expect(await sqlOn('x', 'postgres', `select datname from pg_database where datname = $1`, [`${TIER_PREFIX}_bulky`])).toEqual([]);
      await expectAllAt({ server: 'x', tier: 'schema' });
    } finally {
      await sqlOn('x', 'postgres', `drop database if exists ${TIER_PREFIX}_bulky with (force)`);
      await sqlOn('x', HUB_DB, `delete from placed_tenant where id = 'bulky'`);
    }
  }, 60_000);

  it('a move whose role lacks a documented right is refused before anything is created, naming the right and the server; once granted, the rerun completes', async () => {
    // a tenant of its own (x), moved to y; first without pg_create_subscription on y, then without REPLICATION on x
    await lifecycle.create('refused', {}, { server: 'x' });
    const rows = new Set<string>();
    const results: unknown[] = [];
    const expected: unknown[] = [];
    const refusals: [string, ServerName, string, string, RegExp][] = [
      ['pg_create_subscription on the target', 'y', `revoke pg_create_subscription from ${APP}`, `grant pg_create_subscription to ${APP}`, /pg_create_subscription.*server 'y'|server 'y'.*pg_create_subscription/s],
      ['REPLICATION on the source', 'x', `alter role ${APP} noreplication`, `alter role ${APP} replication`, /REPLICATION.*server 'x'|server 'x'.*REPLICATION/s],
    ];
    for (const [what, server, revoke, grant, message] of refusals) {
      await sqlOn(server, 'postgres', revoke);
      try {
        const outcome = await settled(lifecycle.move('refused', { server: 'y' }));
        // still served from x, through both instances
        const served: Record<string, unknown> = {};
        for (const [instance, url] of [['one', one!.url], ['two', twoUrl]] as const) {
          const title = `p5-${server}-${instance}`;
          const answer = await post(url, 'refused', title);
          served[instance] = answer.kind === 'ok' ? answer.status : answer.kind;
          if (served[instance] === 201) rows.add(title);
        }
        const left = await moveLeftovers('refused', { server: 'x', tier: 'schema' }, { server: 'y', tier: 'schema' });
        measured.push(`move refused for a missing ${what}: ${JSON.stringify(outcome)}; left: ${JSON.stringify(left)}`);
        results.push({ what, outcome, left, served });
        // refused naming the right and the server; nothing created anywhere (no schema on y, no publication or
        // slot on x), the record unchanged; the tenant still served from x
        expected.push({ what, outcome: { error: expect.stringMatching(message) }, left: untouched('x'), served: { one: 201, two: 201 } });
      } finally {
        await sqlOn(server, 'postgres', grant);
      }
    }
    const rerun = await settled(lifecycle.move('refused', { server: 'y' }));
    results.push({ rerun });
    expected.push({ rerun: expect.objectContaining({ tenantId: 'refused', from: { server: 'x', tier: 'schema' }, to: { server: 'y', tier: 'schema' }, moved: true }) });
    expect(results).toEqual(expected);
    await expectMovedAlone('refused', { server: 'x', tier: 'schema' }, { server: 'y', tier: 'schema' }, rows);
  }, 60_000);

  it("a move whose copy cannot read the source's tables (the connection string's role lacks SELECT) stops promptly, saying the copy failed; once granted, the rerun completes", async () => {
    // a tenant of its own (y), moved to x; the role the subscription connects to y with (the app's) may not read its table
    await lifecycle.create('locked', {}, { server: 'y' });
    const rows = new Set<string>();
    expect(await post(one!.url, 'locked', 'p6-before')).toMatchObject({ kind: 'ok', status: 201 });
    rows.add('p6-before');
    await sqlOn('y', TENANTS_DB, `revoke select on tenant_locked.note from ${APP}`);
    const started = performance.now();
    let granted = false;
    const moving = settled(lifecycle.move('locked', { server: 'x' }));
    try {
      const first = await Promise.race([moving, sleep(20_000, undefined, { ref: false }).then(() => 'still waiting after 20 s')]);
      const firstMs = Math.round(performance.now() - started);
      const [stats] = await sqlOn('x', TENANTS_DB, `select coalesce(sum(sync_error_count), 0)::int as errors from pg_stat_subscription_stats where subname = $1`, [
        moveNamesOf('tenant_locked', moveIdFor('tenant_locked', 'x/schema')).subscription,
      ]);
      measured.push(`move whose copy may not read the source: ${JSON.stringify(first)} after ${firstMs} ms; table copy errors on the target meanwhile: ${stats?.errors}`);
      await sqlOn('y', TENANTS_DB, `grant select on tenant_locked.note to ${APP}`);
      granted = true;
      // stopped within 20 s, with an error that says the copy failed (the target's log says why), not a silent wait
      expect({ first, copyErrors: Number(stats?.errors) > 0 }).toEqual({ first: { error: expect.stringMatching(/cop(y|ied)/i) }, copyErrors: true });
    } finally {
      if (!granted) await sqlOn('y', TENANTS_DB, `grant select on tenant_locked.note to ${APP}`);
      await moving; // a move still waiting completes once the copy can read
    }
    const rerun = await settled(lifecycle.move('locked', { server: 'x' }));
    expect(rerun).toMatchObject({ tenantId: 'locked', to: { server: 'x', tier: 'schema' } });
    await expectMovedAlone('locked', { server: 'y', tier: 'schema' }, { server: 'x', tier: 'schema' }, rows);
  }, 60_000);

  it("a move whose CREATE SUBSCRIPTION fails (every WAL sender of the source busy) is finished by a rerun once they are free, as the docs' crash table says", async () => {
    // a tenant of its own (y), moved to x. Every WAL sender of y is taken by replication sessions of the DBA, so the
    // subscription on x cannot connect to y: a passing condition (max_wal_senders) that no check can rule out
    await lifecycle.create('walsend', {}, { server: 'y' });
    const rows = new Set<string>();
    expect(await post(one!.url, 'walsend', 'p7-before')).toMatchObject({ kind: 'ok', status: 201 });
    rows.add('p7-before');
    const senders: pg.Client[] = [];
    let failed: unknown;
    try {
      for (let n = 0; n < 30; n++) {
        const client = new pg.Client({ host: '127.0.0.1', port: servers.y.port, user: 'postgres', database: TENANTS_DB, replication: 'database' } as pg.ClientConfig);
        const connected = await client.connect().then(() => true, () => false);
        if (!connected) break;
        senders.push(client);
      }
      failed = await settled(lifecycle.move('walsend', { server: 'x' }));
    } finally {
      await Promise.all(senders.map((client) => client.end().catch(() => undefined)));
    }
    measured.push(`move y -> x while every WAL sender of y (${senders.length}) was busy: ${JSON.stringify(failed)}`);
    const record = await sqlOn('x', HUB_DB, `select server from placed_tenant where id = 'walsend'`);
    const served = await post(one!.url, 'walsend', 'p7-while-failed');
    if (served.kind === 'ok' && served.status === 201) rows.add('p7-while-failed');

    // the senders are free again: the rerun continues from what the servers show and completes
    const rerun = await settled(lifecycle.move('walsend', { server: 'x' }));
    measured.push(`rerun once the senders were free: ${JSON.stringify(rerun)}`);
    // the failure names its cause (not "the database is unavailable"), the tenant stayed on y and served, the rerun moved it
    expect({ failed, record, served, rerun }).toEqual({
      failed: { error: expect.stringMatching(/max_wal_senders/) },
      record: [{ server: 'y' }],
      served: expect.objectContaining({ kind: 'ok', status: 201 }),
      rerun: expect.objectContaining({ tenantId: 'walsend', from: { server: 'y', tier: 'schema' }, to: { server: 'x', tier: 'schema' }, moved: true }),
    });
    await expectMovedAlone('walsend', { server: 'y', tier: 'schema' }, { server: 'x', tier: 'schema' }, rows);
  }, 60_000);
});
