/**
 * Isolation conformance, database mode (issue 12): the relational model in one database per tenant, with
 * look-alike sentinel rows in the hub database and in the template database (the template config's own `dbName`),
 * and one result-cache adapter shared by every tenant ORM. Every query path goes through the injected tenant
 * EntityManager; PostgreSQL is asked what happened.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import {
  ContextMigrations,
  MikroTenancyModule,
  TenancyError,
  TenancyService,
  TenantLifecycle,
  TenantStores,
  getEntityManagerToken,
} from '../../src/index.js';
import { BlogController, CapturingLogger, SharedCacheAdapter, type StartedApp, hubContextConfig, startBlogApp, tenantTemplateConfig } from '../fixtures/relational/app.js';
import { type ConformanceEnv, TENANTS, conformanceHelpers, describeConformance, describeHostileListedId } from '../fixtures/relational/conformance.js';
import { Article, Tag, TenantRow } from '../fixtures/relational/entities.js';
import { type Place, RawSql, Sentinels } from '../fixtures/relational/places.js';
import { TENANT_TABLE_LIST, migrationsFolder, modelDdl } from '../fixtures/relational/setup.js';
import { TestDatabases, databaseUrl, uniqueName } from '../support/test-databases.js';

const databases = new TestDatabases();
const raw = new RawSql();
const migrations = migrationsFolder('database');
const prefix = uniqueName('isodb');
const dbOf = (tenantId: string) => `${prefix}_${tenantId}`;
let env: ConformanceEnv;
let app: StartedApp | undefined;
let templateDb: string;

beforeAll(async () => {
  const hubDb = await databases.create('iso_dbhub');
  templateDb = await databases.create('iso_dbtpl');
  const ddl = await modelDdl();
  await raw.exec(hubDb, ddl.hub);
  const hubPlace: Place = { label: 'hub', db: hubDb, schema: 'public', marker: 'SENTINEL-hub', variant: 'sentinel' };
  const templatePlace: Place = { label: 'template', db: templateDb, schema: 'public', marker: 'SENTINEL-template', variant: 'sentinel' };
  for (const place of [hubPlace, templatePlace]) {
    await raw.createTables(place, ddl.tenant);
    await raw.reseed(place);
  }
  const sentinels = new Sentinels(raw, [hubPlace, templatePlace], ['tenant']);
  await sentinels.take();

  const logger = new CapturingLogger();
  app = await startBlogApp(
    {
      imports: [
        MikroTenancyModule.forRoot({
          contexts: { default: hubContextConfig(hubDb) },
          tenancy: {
            isolation: 'database',
            // the template has a dbName of its own (with look-alike rows): no tenant may ever be served from it
            config: tenantTemplateConfig(templateDb, migrations.path, { resultCache: { adapter: SharedCacheAdapter, expiration: 60_000 } }),
            store: TenantStores.table(TenantRow),
            database: (tenant) => ({ dbName: (tenant as TenantRow).dbName ?? dbOf(tenant.id) }),
            pool: { maxOpenTenants: 4, connectionsPerTenant: 3 },
            cacheTtlMs: 0,
          },
        }),
        MikroTenancyModule.forFeature([Article], 'tenant'),
      ],
      controllers: [BlogController],
    },
    logger,
  );
  const contextMigrations = app.app.get(ContextMigrations);
  const created = await contextMigrations.create('tenant');
  expect(created.fileName).not.toBe('');
  const lifecycle = app.app.get(TenantLifecycle);
  for (const t of TENANTS) await lifecycle.create(t, {}, { seed: false });
  const tenants = {
    t1: { label: 't1', db: dbOf('t1'), schema: 'public', marker: 't1', variant: 't1' },
    t2: { label: 't2', db: dbOf('t2'), schema: 'public', marker: 't2', variant: 't2' },
  } satisfies Record<string, Place>;
  for (const t of TENANTS) await raw.reseed(tenants[t]);
  env = {
    mode: 'database',
    app,
    em: app.app.get<EntityManager>(getEntityManagerToken('tenant')),
    tenancy: app.app.get(TenancyService),
    lifecycle,
    migrations: contextMigrations,
    raw,
    tenants,
    sentinels,
    logger,
    hubDb,
    tenantTables: TENANT_TABLE_LIST,
  };
});

afterAll(async () => {
  await app?.close();
  await raw.close();
  await databases.dropAll(prefix);
  migrations.dispose();
});

describe('isolation conformance (database mode, sentinels in the hub and template databases, one shared cache adapter)', () => {
  describeConformance(() => env);

  describeHostileListedId(
    () => env,
    {
      add: async (id) => void (await raw.exec(env.hubDb, 'insert into tenant (id, suspended) values ($1, false)', [id])),
      remove: async (id) => void (await raw.exec(env.hubDb, 'delete from tenant where id = $1', [id])),
    },
    async (needle) => (await raw.exec('postgres', 'select datname from pg_database where lower(datname) like $1', [`%${needle}%`])).rows.map((r) => r.datname as string),
  );

  it("an unqualified raw query through the tenant EntityManager reads the tenant's own database", async () => {
    const { inTenant, within, ds } = conformanceHelpers(() => env);
    for (const t of TENANTS) {
      const titles = await within(t, async (em) => ({
        execute: (await em.execute<{ title: string }[]>('select title from article order by id')).map((r) => r.title),
        connection: (await em.getConnection().execute<{ title: string }[]>('select title from article order by id')).map((r) => r.title),
      }));
      const expected = ds(t).articles.map((a) => a.title);
      expect(titles).toEqual({ execute: expected, connection: expected });
    }
    expect(await inTenant('t1', async (em) => (await em.execute<{ db: string }[]>('select current_database() as db'))[0]?.db)).toBe(dbOf('t1'));
  });
});

describe('regressions found on a relational app (database mode)', () => {
  const helpers = () => conformanceHelpers(() => env);
  beforeEach(async () => {
    for (const t of TENANTS) await raw.reseed(env.tenants[t]);
  });
  afterEach(() => env.sentinels.restoreIfChanged());

  it("#5 tenancy.database returning a clientUrl while the template has a dbName: the tenant gets its own database or a clear error, never the template's rows", async () => {
    const logger = env.logger; // Nest's logger is process-wide: keep the one the suite captures with
    let context: INestApplicationContext | undefined;
    const outcome = await (async () => {
      @Module({
        imports: [
          MikroTenancyModule.forRoot({
            contexts: { default: hubContextConfig(env.hubDb) },
            tenancy: {
              isolation: 'database',
              config: tenantTemplateConfig(templateDb, migrations.path),
              store: TenantStores.static(['t1', 't2']),
              database: (tenant) => ({ clientUrl: databaseUrl(dbOf(tenant.id)) }),
              cacheTtlMs: 0,
            },
          }),
        ],
      })
      class ClientUrlModule {}
      context = await NestFactory.createApplicationContext(ClientUrlModule, { logger, abortOnError: false });
      const tenancy = context.get(TenancyService);
      const em = context.get<EntityManager>(getEntityManagerToken('tenant'));
      const seen: Record<string, { titles: string[]; db: string }> = {};
      for (const t of TENANTS) {
        seen[t] = await tenancy.run(t, async () => ({
          titles: (await em.find(Article, {}, { orderBy: { id: 'asc' } })).map((a) => a.title),
          db: (await em.execute<{ db: string }[]>('select current_database() as db'))[0]?.db as string,
        }));
      }
      await tenancy.run('t1', () => em.nativeUpdate(Tag, { id: 'tg1' }, { description: 'written through clientUrl' }));
      return { kind: 'served' as const, seen };
    })().then(
      (served) => served,
      (error: Error) => ({ kind: 'error' as const, message: error.message }),
    );
    await context?.close();

    if (outcome.kind === 'served') {
      // served its own database: every tenant read its own rows, and the write landed in t1's database
      for (const t of TENANTS) {
        expect({ t, ...outcome.seen[t] }).toEqual({ t, titles: helpers().ds(t).articles.map((a) => a.title), db: dbOf(t) });
      }
      expect(await helpers().column('t1', "select description from {tag} where id = 'tg1'")).toEqual(['written through clientUrl']);
    } else {
      // a clear error that names the tenant and the option
      expect(outcome.message).toMatch(/'t1'|"t1"|\bt1\b/);
      expect(outcome.message).toMatch(/clientUrl|dbName/);
      expect(outcome.message).not.toContain('SENTINEL');
    }
    expect({ sentinelChanges: await env.sentinels.changes() }).toEqual({ sentinelChanges: {} });
    // eslint-disable-next-line no-console
    console.info(`#5 outcome: ${outcome.kind === 'served' ? 'each tenant served its own database' : `error: ${outcome.message}`}`);
  });

  it("#6 (database analogue) a tenant whose record derives another tenant's database (evil2 -> t1's dbName) is refused at create and at use", async () => {
    const { lifecycle, tenancy, em, app: running } = env;
    const t1Titles = helpers().ds('t1').articles.map((a) => a.title);
    const t1Before = await raw.snapshot(env.tenants.t1);

    const refused = await lifecycle.create('evil2', { dbName: dbOf('t1') } as Partial<TenantRow>).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeDefined();
    const status = (refused as { getStatus?: () => number }).getStatus?.() ?? (refused as { status?: number }).status;
    expect({ conflictOrTenancyError: status === 409 || refused instanceof TenancyError, message: (refused as Error).message }).toEqual({
      conflictOrTenancyError: true,
      message: expect.stringContaining('evil2'),
    });
    expect((await raw.exec(env.hubDb, "select id from tenant where id = 'evil2'")).rows).toEqual([]);
    expect((await raw.exec('postgres', 'select 1 from pg_database where datname = $1', [dbOf('t1')])).rows).toHaveLength(1);
    expect(await raw.snapshot(env.tenants.t1)).toEqual(t1Before);

    await raw.exec(env.hubDb, 'insert into tenant (id, suspended, db_name) values ($1, false, $2)', ['evil2', dbOf('t1')]);
    try {
      const served = await tenancy.run('evil2', () => em.find(Article, {}, { orderBy: { id: 'asc' } })).then(
        (list) => ({ titles: list.map((a) => a.title) }),
        (error: Error) => ({ error: error.message }),
      );
      expect(served).toEqual({ error: expect.stringContaining('evil2') });
      const overHttp = await running.request('/articles', { headers: { 'x-tenant-id': 'evil2' } });
      expect(overHttp.status).toBeGreaterThanOrEqual(400);
      expect(JSON.stringify(overHttp.body)).not.toContain('t1 ');
      expect((await tenancy.run('t1', () => em.find(Article, {}, { orderBy: { id: 'asc' } }))).map((a) => a.title)).toEqual(t1Titles);
    } finally {
      await raw.exec(env.hubDb, "delete from tenant where id = 'evil2'");
    }
    expect(await raw.snapshot(env.tenants.t1)).toEqual(t1Before);
  });
});
