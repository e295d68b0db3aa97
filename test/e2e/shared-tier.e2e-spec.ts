/**
 * Schema isolation's shared tier (issue 17): small tenants' rows in shared tables (schema `nmt_shared` of a database
 * of their own), next to tenants with a schema of their own, in one app, through the real module and HTTP. The app
 * connects as a role that row-level security binds; migrations run as the tables' owner (tenancy.migrateAs).
 * Look-alike rows wait where a misrouted query would land: `public` of both databases, and the other tier.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { type AddressInfo, createServer } from 'node:net';
import { MikroORM, defineConfig } from '@mikro-orm/postgresql';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import {
  ContextMigrations,
  MikroTenancyModule,
  type MikroTenancyModuleOptions,
  TenancyService,
  TenancyUsageError,
  TenantLifecycle,
  TenantStores,
  getEntityManagerToken,
} from '../../src/index.js';
import { TenancyRuntime } from '../../src/runtime/tenancy-runtime.js';
import { BlogController, CapturingLogger, type StartedApp, startBlogApp, tenantTemplateConfig } from '../fixtures/relational/app.js';
import { Article, Author, Tag } from '../fixtures/relational/entities.js';
import { migrationsFolder, modelDdl } from '../fixtures/relational/setup.js';
import { PlacedTenant } from '../fixtures/entities/placed-tenant.entity.js';
import { TestDatabases, connectionOptions, sql, uniqueName } from '../support/test-databases.js';

const databases = new TestDatabases();
const role = uniqueName('tier_role').toLowerCase();
const migrations = migrationsFolder('shared-tier');
const logger = new CapturingLogger();
const OWN = ['o1', 'o2'];
const SHARED = ['s1', 's2'];
const SHARED_TABLES = ['article', 'article_tags', 'author', 'author_following', 'tag'];
let db: string;
let sharedDb: string;
let app: StartedApp;
let lifecycle: TenantLifecycle<PlacedTenant>;

function options(): MikroTenancyModuleOptions {
  const asApp = { user: role, password: 'pw' };
  const owner = connectionOptions('postgres');
  return {
    contexts: { hub: defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(db), ...asApp, entities: [PlacedTenant], pool: { max: 3 } }) },
    tenancy: {
      isolation: 'schema',
      store: TenantStores.table(PlacedTenant, { context: 'hub' }),
      config: tenantTemplateConfig(db, migrations.path, asApp),
      sharedTier: { dbName: sharedDb },
      migrateAs: { user: owner.user, password: owner.password },
      cacheTtlMs: 0,
    },
  };
}

/** Lets the app role use what the owner (the test's superuser, as migrations run) creates in `database`. */
async function grantRowPrivileges(database: string): Promise<void> {
  await sql(
    database,
    `grant usage on schema public to "${role}"; grant select, insert, update, delete on all tables in schema public to "${role}"; ` +
      `alter default privileges grant usage on schemas to "${role}"; alter default privileges grant select, insert, update, delete on tables to "${role}"`,
  );
}

/**
 * A tenant's blog: two authors (one follows the other), an article with two tags. Keys are `<keys>-...`: the same
 * for both own-schema tenants, distinct in the shared tables, where primary keys are global.
 */
async function writeBlog(em: EntityManager, marker: string, keys: string): Promise<void> {
  const author = em.create(Author, { id: `${keys}-a1`, username: 'alice', email: 'alice@example.com', displayName: marker, address: { city: 'Paris', country: marker } });
  const other = em.create(Author, { id: `${keys}-a2`, username: 'bob', email: 'bob@example.com', displayName: marker, address: { city: 'Oslo', country: marker } });
  author.following.add(other);
  const article = em.create(Article, { id: `${keys}-ar1`, title: marker, published: true, author });
  article.tags.add(em.create(Tag, { id: `${keys}-tg1`, name: 'typescript', description: marker }), em.create(Tag, { id: `${keys}-tg2`, name: 'postgres', description: marker }));
  await em.flush();
}

const keysOf = (tenantId: string) => (SHARED.includes(tenantId) ? tenantId : 'k');

beforeAll(async () => {
  db = await databases.create('tiers');
  sharedDb = await databases.create('tiers_shared');
  await sql('postgres', `create role "${role}" login password 'pw'`);
  const hub = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(db), entities: [PlacedTenant] }));
  await hub.schema.create();
  await hub.close();
  // look-alike tables and rows in public of both databases, with the very keys the tenants use
  const ddl = (await modelDdl()).tenant;
  for (const database of [db, sharedDb]) {
    await sql(database, ddl);
    for (const keys of ['k', ...SHARED]) {
      await sql(database, `insert into author (id, username, email, display_name, address_city, address_country) values ($1, $2, $3, 'SENTINEL', 'x', 'x')`, [`${keys}-a1`, `alice-${keys}`, `${keys}@x`]);
    }
    await grantRowPrivileges(database);
  }

  app = await startBlogApp({ imports: [MikroTenancyModule.forRoot(options()), MikroTenancyModule.forFeature([Article], 'tenant')], controllers: [BlogController] }, logger);
  lifecycle = app.app.get(TenantLifecycle);
  expect((await app.app.get(ContextMigrations).create('tenant')).fileName).not.toBe('');
  for (const id of OWN) await lifecycle.create(id, {}, { seed: false });
  for (const id of SHARED) await lifecycle.create(id, { tier: 'shared' }, { seed: false });
  const tenancy = app.app.get(TenancyService);
  const em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
  for (const id of [...OWN, ...SHARED]) await tenancy.run(id, () => writeBlog(em, `marker-${id}`, keysOf(id)));
}, 120_000);

afterAll(async () => {
  await app?.close();
  await databases.dropAll();
  await sql('postgres', `drop role if exists "${role}"`).catch(() => undefined);
  migrations.dispose();
});

describe('schema isolation with a shared tier', () => {
  it('keeps own-schema tenants in their schemas and shared-tier tenants in the shared tables, every row tagged with its tenant', async () => {
    for (const id of OWN) {
      for (const table of SHARED_TABLES) {
        expect({ id, table, rows: await sql(db, `select distinct tenant_id from "tenant_${id}"."${table}"`) }).toEqual({ id, table, rows: [{ tenant_id: id }] });
      }
    }
    for (const table of SHARED_TABLES) {
      const rows = await sql(sharedDb, `select tenant_id, count(*)::int as n from nmt_shared."${table}" group by 1 order by 1`);
      expect({ table, tenants: rows.map((r) => r.tenant_id) }).toEqual({ table, tenants: SHARED });
    }
    // no tenant schema for a shared-tier tenant, no shared tables in the tenant database
    expect(await sql(db, `select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'nmt_shared' order by 1`)).toEqual(OWN.map((id) => ({ nspname: `tenant_${id}` })));
    expect((await sql(sharedDb, `select nspname from pg_namespace where nspname like 'tenant\\_%'`)).length).toBe(0);
  });

  it('answers each tenant with its own blog over HTTP, whatever tier it is in', async () => {
    for (const id of [...OWN, ...SHARED]) {
      const { status, body } = await app.request('/articles', { headers: { 'x-tenant-id': id } });
      expect({ id, status }).toEqual({ id, status: 200 });
      expect(body).toEqual([
        { id: `${keysOf(id)}-ar1`, title: `marker-${id}`, author: { id: `${keysOf(id)}-a1`, username: 'alice', displayName: `marker-${id}` }, tags: ['postgres', 'typescript'] },
      ]);
    }
  });

  it('a shared-tier tenant cannot reach another shared-tier tenant\'s rows by key, through the ORM or raw SQL', async () => {
    const tenancy = app.app.get(TenancyService);
    const em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
    const seen = await tenancy.run('s1', async () => ({
      find: await em.findOne(Author, 's2-a1'),
      count: await em.count(Tag, { id: { $in: ['s1-tg1', 's2-tg1'] } }),
      raw: await em.execute(`select id from nmt_shared.author where id like 's2-%'`),
      updated: await em.nativeUpdate(Author, { id: 's2-a1' }, { displayName: 'hijacked' }),
    }));
    expect(seen).toEqual({ find: null, count: 1, raw: [], updated: 0 });
    expect(await sql(sharedDb, `select display_name from nmt_shared.author where id = 's2-a1'`)).toEqual([{ display_name: 'marker-s2' }]);
  });

  it('migrates every tenant in its tier: up to date, the shared tables once', async () => {
    const report = await lifecycle.migrate();
    expect(report.ok).toBe(true);
    expect(report.tenants.map((t) => [t.tenantId, t.status]).sort()).toEqual([...OWN, ...SHARED].sort().map((id) => [id, 'up-to-date']));
  });

  it('reports the shared tier as a server of its own to the health indicator, with its ORM to ping', async () => {
    const health = app.app.get(TenancyRuntime).tenants!.isolation.health();
    expect(Object.keys(health.servers ?? {})).toEqual(['default', 'default shared tier']);
    const shared = health.servers!['default shared tier']!;
    expect(shared.details).toEqual({ isolation: 'schema', tier: 'shared' });
    expect(await shared.ping!.em.getConnection().execute(`select current_database() as db, current_setting('search_path') as path`)).toEqual([{ db: sharedDb, path: 'nmt_shared,pg_temp' }]);
  });

  it('a move of a shared-tier tenant to the shared tier changes nothing; an unknown tier is refused, naming the tiers', async () => {
    const here = { server: '', tier: 'shared' };
    expect(await lifecycle.move('s2', { tier: 'shared' })).toEqual({ tenantId: 's2', from: here, to: here, moved: false });
    await expect(lifecycle.move('o2', { tier: 'attic' as never })).rejects.toThrow(TenancyUsageError);
    await expect(lifecycle.move('o2', { tier: 'attic' as never })).rejects.toThrow(/'schema', 'database' and 'shared'/);
    expect((await app.request('/articles', { headers: { 'x-tenant-id': 's2' } })).status).toBe(200);
  });

  it('drops a shared-tier tenant: its rows go, the other tenants\' stay, its requests answer 404', async () => {
    await lifecycle.drop('s1', { confirm: 's1' });
    for (const table of SHARED_TABLES) {
      const rows = await sql(sharedDb, `select distinct tenant_id from nmt_shared."${table}" order by 1`);
      expect({ table, tenants: rows.map((r) => r.tenant_id) }).toEqual({ table, tenants: ['s2'] });
    }
    expect((await app.request('/articles', { headers: { 'x-tenant-id': 's1' } })).status).toBe(404);
    expect((await app.request('/articles', { headers: { 'x-tenant-id': 's2' } })).body).toHaveLength(1);
    // the look-alike rows in public were never touched
    for (const database of [db, sharedDb]) expect((await sql(database, `select count(*)::int as n from public.author where display_name = 'SENTINEL'`))[0]).toEqual({ n: 3 });
  });
});

/**
 * All three tiers in one app, connected as the test's superuser (so the shared tier only warns about a role that
 * bypasses row-level security): a database-tier tenant's own database carries the same tenant column, filled with its id.
 */
describe('schema isolation with a shared tier and a database tier', () => {
  const prefix = uniqueName('tier3');
  let all: StartedApp;
  let tenantDb: string;
  let tierShared: string;

  beforeAll(async () => {
    tenantDb = await databases.create('tier3');
    tierShared = await databases.create('tier3_shared');
    const hub = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(tenantDb), entities: [PlacedTenant] }));
    await hub.schema.create();
    await hub.close();
    const module = MikroTenancyModule.forRoot({
      contexts: { hub: defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(tenantDb), entities: [PlacedTenant], pool: { max: 3 } }) },
      tenancy: {
        isolation: 'schema',
        store: TenantStores.table(PlacedTenant, { context: 'hub' }),
        config: tenantTemplateConfig(tenantDb, migrations.path),
        sharedTier: { dbName: tierShared, bypassingRole: 'warn' },
        databaseTier: { dbName: (tenant) => `${prefix}_${tenant.id}` },
        cacheTtlMs: 0,
      },
    });
    all = await startBlogApp({ imports: [module, MikroTenancyModule.forFeature([Article], 'tenant')], controllers: [BlogController] }, logger);
    const tiers = all.app.get<TenantLifecycle<PlacedTenant>>(TenantLifecycle);
    await tiers.create('big', { tier: 'database' }, { seed: false });
    await tiers.create('own', {}, { seed: false });
    await tiers.create('small', { tier: 'shared' }, { seed: false });
    const tenancy = all.app.get(TenancyService);
    const em = all.app.get<EntityManager>(getEntityManagerToken('tenant'));
    for (const id of ['big', 'own', 'small']) await tenancy.run(id, () => writeBlog(em, `marker-${id}`, id));
  }, 120_000);

  afterAll(async () => {
    await all?.close();
    await databases.dropAll(prefix);
  });

  it("fills each tier's tenant column with the tenant's id: its own database, its own schema, the shared tables", async () => {
    const where = { big: [`${prefix}_big`, 'tenant_big'], own: [tenantDb, 'tenant_own'], small: [tierShared, 'nmt_shared'] } as const;
    for (const [id, [database, schema]] of Object.entries(where)) {
      for (const table of SHARED_TABLES) {
        expect({ id, table, rows: await sql(database, `select distinct tenant_id from "${schema}"."${table}"`) }).toEqual({ id, table, rows: [{ tenant_id: id }] });
      }
    }
    expect(await sql(`${prefix}_big`, 'select tenant_big.nmt_tenant() as id')).toEqual([{ id: 'big' }]);
  });

  it('serves each tenant its own blog over HTTP, and warns once that the role bypasses the shared tier\'s row-level security', async () => {
    for (const id of ['big', 'own', 'small']) {
      const { status, body } = await all.request('/articles', { headers: { 'x-tenant-id': id } });
      expect({ id, status, titles: (body as { title: string }[]).map((a) => a.title) }).toEqual({ id, status: 200, titles: [`marker-${id}`] });
    }
    expect(logger.lines.filter((line) => line.includes('bypass') || line.includes('superuser')).length).toBeGreaterThan(0);
  });
});

/**
 * A server whose shared tier cannot be reached at boot (nothing listens on its port) does not stop the app: the
 * tenants of the other server are served, the unreachable one's answer 503 naming no SQL, and health says which.
 */
describe('schema isolation with a shared tier on a server that is down at boot', () => {
  const prefix = uniqueName('tierdown');
  const downLogger = new CapturingLogger();
  let up: StartedApp;
  let tenantDb: string;

  beforeAll(async () => {
    tenantDb = await databases.create('tierdown');
    await databases.create('tierdown_shared');
    const hub = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(tenantDb), entities: [PlacedTenant] }));
    await hub.schema.create();
    await hub.close();
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const main = connectionOptions(tenantDb);
    const module = MikroTenancyModule.forRoot({
      contexts: { hub: defineConfig({ metadataProvider: ReflectMetadataProvider, ...main, entities: [PlacedTenant], pool: { max: 3 } }) },
      tenancy: {
        isolation: 'schema',
        store: TenantStores.table(PlacedTenant, { context: 'hub' }),
        config: tenantTemplateConfig(tenantDb, migrations.path),
        servers: { main, down: { ...main, host: '127.0.0.1', port: closedPort } },
        sharedTier: { dbName: `${tenantDb}_shared`, bypassingRole: 'warn' },
        cacheTtlMs: 0,
      },
    });
    up = await startBlogApp({ imports: [module, MikroTenancyModule.forFeature([Article], 'tenant')], controllers: [BlogController] }, downLogger);
    const tiers = up.app.get<TenantLifecycle<PlacedTenant>>(TenantLifecycle);
    await tiers.create('alive', { tier: 'shared' }, { seed: false, server: 'main' });
    await sql(tenantDb, `insert into placed_tenant (id, suspended, server, tier) values ('unreachable', false, 'down', 'shared')`);
  }, 120_000);

  afterAll(async () => {
    await up?.close();
    await databases.dropAll(prefix);
  });

  it('boots, warns which shared tier it could not set up, and serves the tenants of the server that is up', async () => {
    expect(downLogger.lines.some((line) => line.includes("the shared tier's server could not be reached at boot"))).toBe(true);
    expect(await up.request('/articles', { headers: { 'x-tenant-id': 'alive' } })).toEqual({ status: 200, body: [] });
  });

  it("answers 503 for the unreachable server's shared-tier tenant, without SQL or socket details, and says so in health", async () => {
    const { status, body } = await up.request('/articles', { headers: { 'x-tenant-id': 'unreachable' } });
    expect({ status, message: (body as { message: string }).message }).toEqual({ status: 503, message: expect.not.stringMatching(/ECONNREFUSED|select|127\.0\.0\.1/) });
    const health = up.app.get(TenancyRuntime).tenants!.isolation.health();
    expect(Object.keys(health.servers ?? {})).toEqual(['main', 'main shared tier', 'down', 'down shared tier']);
    expect(await up.request('/articles', { headers: { 'x-tenant-id': 'alive' } })).toEqual({ status: 200, body: [] });
  });
});
