/**
 * Mixed tiers, step 3 (docs/internals/mixed-tiers.md, 4.4): the storage of each tier on a real PostgreSQL. One set of
 * generated tenant migrations is applied to two tenants' own schemas (their `nmt_tenant()` a constant) and to the
 * shared tier's schema (its `nmt_tenant()` the transaction's setting); then an app role that row-level security
 * binds writes and reads the relational model in each, next to look-alike rows of other tenants.
 */
import { Migrator } from '@mikro-orm/migrations';
import { type EntityManager, MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { ContextConfig } from '../../src/options/tenancy-options.js';
import { DEFAULT_SHARED_COLUMN } from '../fixtures/shared-column.js';
import { mixedTierDiscovery, withMixedTierTables } from '../../src/isolation/schema/mixed-tier-metadata.js';
import { FENCE_CLEANUP_SETTING, mixedTierSchemaPrelude, sharedReplicaIdentitySql, tenantFunctionSql } from '../../src/isolation/schema/mixed-tier-functions.js';
import { createTenantMigration } from '../../src/lifecycle/create-tenant-migration.js';
import { migrateTenant, migrationOrmOptions } from '../../src/lifecycle/migrate-tenant.js';
import { Article, Author, Tag, TENANT_ENTITIES } from '../fixtures/relational/entities.js';
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { TestDatabases, connectionOptions, sql, uniqueName } from '../support/test-databases.js';

const SHARED = DEFAULT_SHARED_COLUMN;
const SHARED_SCHEMA = 'nmt_shared';
const TENANT_TABLES = ['author', 'author_following', 'profile', 'tag', 'article', 'article_tags', 'comment', 'favorite', 'content'];

const databases = new TestDatabases();
const role = uniqueName('mixed_role').toLowerCase();
let db: string;
let folder: { path: string; dispose(): void };
let schemaTier: MikroORM;
let sharedTier: MikroORM;
/** SQL each serving ORM sent, as MikroORM's query logger prints it. */
const sent = { schemaTier: [] as string[], sharedTier: [] as string[] };
const logTo = (lines: string[]): Partial<ContextConfig> => ({ debug: ['query'], logger: (line: string) => void lines.push(line) }) as Partial<ContextConfig>;

function config(wildcardSchema: boolean, extra: Partial<ContextConfig>): ContextConfig {
  const template = { entities: TENANT_ENTITIES, driver: PostgreSqlDriver, extensions: [Migrator], migrations: { path: folder.path, snapshotName: '.snapshot-tenant' }, ...extra } as ContextConfig;
  return { ...template, ...withMixedTierTables(template), discovery: mixedTierDiscovery(template, 'tenant', SHARED, () => undefined, { wildcardSchema }) };
}

/** The app's connections: a role without BYPASSRLS, so the forced policies bind it. */
const asApp = (): Partial<ContextConfig> => ({ ...connectionOptions(db), user: role, password: 'pw', pool: { min: 0, max: 2 } });

/** A schema-tier fork: the tenant's schema and the tenant filter; no session setting, so no transaction per query. */
function schemaFork(schema: string, tenantId: string): EntityManager {
  const em = schemaTier.em.fork({ schema, disableContextResolution: true }) as EntityManager;
  em.setFilterParams('tenant', { id: tenantId });
  return em;
}

/** A shared-tier fork: the shared schema, the filter, and the setting `nmt_tenant()` reads, per transaction. */
function sharedFork(tenantId: string): EntityManager {
  const em = sharedTier.em.fork({ schema: SHARED_SCHEMA, session: { variables: { [SHARED.setting]: tenantId } }, disableContextResolution: true } as never) as EntityManager;
  em.setFilterParams('tenant', { id: tenantId });
  return em;
}

/**
 * One tenant's little blog: an author, an article with two tags (generated pivot), a follower (self m:n). Keys are
 * `<keys>-...`: the same in two tenants' own schemas, distinct in the shared tables (primary keys are global there).
 */
async function writeBlog(em: EntityManager, marker: string, keys: string): Promise<void> {
  const author = em.create(Author, { id: `${keys}-a1`, username: 'alice', email: 'alice@example.com', displayName: marker, address: { city: 'Paris', country: marker } });
  const other = em.create(Author, { id: `${keys}-a2`, username: 'bob', email: 'bob@example.com', displayName: marker, address: { city: 'Oslo', country: marker } });
  author.following.add(other);
  const article = em.create(Article, { id: `${keys}-ar1`, title: `${marker} one`, published: true, author });
  article.tags.add(em.create(Tag, { id: `${keys}-tg1`, name: 'typescript', description: marker }), em.create(Tag, { id: `${keys}-tg2`, name: 'postgres', description: marker }));
  await em.flush();
}

/** What a tenant sees of its blog, through joined and select-in populate. */
async function readBlog(em: EntityManager): Promise<string[]> {
  const seen: string[] = [];
  for (const strategy of ['joined', 'select-in'] as const) {
    const articles = await em.fork().find(Article, {}, { populate: ['author', 'tags', 'author.following'], strategy });
    for (const a of articles) {
      const author = a.author.$;
      seen.push(author.displayName, ...a.tags.getItems().map((t) => t.description), ...author.following.getItems().map((f) => f.displayName));
    }
  }
  return seen;
}

beforeAll(async () => {
  db = await databases.create('mixed_tier');
  folder = migrationsFolder('mixed-storage');
  await sql('postgres', `create role "${role}" login password 'pw'`);
  const owner = connectionOptions(db);
  const generated = await createTenantMigration('tenant', config(false, owner), {});
  expect(generated.fileName).not.toBe('');

  const migrations = await MikroORM.init(migrationOrmOptions(config(true, owner), 'tenant:migrations'));
  try {
    const targets = [
      { tenantId: 'a', schema: 'tenant_a', before: mixedTierSchemaPrelude('tenant_a', { tenantId: 'a' }, SHARED) },
      { tenantId: 'b', schema: 'tenant_b', before: mixedTierSchemaPrelude('tenant_b', { tenantId: 'b' }, SHARED) },
      {
        tenantId: 'shared tier',
        schema: SHARED_SCHEMA,
        shared: true,
        before: mixedTierSchemaPrelude(SHARED_SCHEMA, { setting: SHARED.setting }, SHARED),
        after: [sharedReplicaIdentitySql(SHARED_SCHEMA)],
      },
    ];
    for (const target of targets) {
      // twice: the prelude and the replica identity step are idempotent, the second run applies nothing
      expect((await migrateTenant(migrations, 'up', { ...target, lockKey: `mixed:${target.schema}`, label: target.schema })).length).toBe(1);
      expect(await migrateTenant(migrations, 'up', { ...target, lockKey: `mixed:${target.schema}`, label: target.schema })).toEqual([]);
    }
  } finally {
    await migrations.close();
  }
  for (const schema of ['tenant_a', 'tenant_b', SHARED_SCHEMA]) {
    await sql(db, `grant usage on schema "${schema}" to "${role}"; grant select, insert, update, delete on all tables in schema "${schema}" to "${role}"`);
  }

  schemaTier = await MikroORM.init(config(true, { ...asApp(), ...logTo(sent.schemaTier) }) as never);
  sharedTier = await MikroORM.init(config(true, { ...asApp(), ...logTo(sent.sharedTier), sessionContext: 'transaction' }) as never);
  await writeBlog(schemaFork('tenant_a', 'a'), 'own-a', 'x');
  await writeBlog(schemaFork('tenant_b', 'b'), 'own-b', 'x');
  // the same unique values (usernames, tag names) for two tenants in the shared tables: each other's look-alikes
  await writeBlog(sharedFork('s1'), 'shared-s1', 's1');
  await writeBlog(sharedFork('s2'), 'shared-s2', 's2');
}, 120_000);

afterAll(async () => {
  await schemaTier?.close();
  await sharedTier?.close();
  await databases.dropAll();
  await sql('postgres', `drop role if exists "${role}"`);
  folder?.dispose();
});

describe('mixed tiers on PostgreSQL: one set of migrations, three schemas (issue 17, step 3)', () => {
  it("fills the tenant column from the schema's nmt_tenant(): the tenant's id in its own schema, the setting's in the shared one", async () => {
    for (const [schema, expected] of [['tenant_a', ['a']], ['tenant_b', ['b']], [SHARED_SCHEMA, ['s1', 's2']]] as const) {
      for (const table of TENANT_TABLES) {
        const rows = await sql<{ tenant_id: string }>(db, `select distinct tenant_id from "${schema}"."${table}" order by 1`);
        const filled = ['author', 'author_following', 'tag', 'article', 'article_tags'].includes(table) ? [...expected] : [];
        expect({ schema, table, tenants: rows.map((r) => r.tenant_id) }).toEqual({ schema, table, tenants: filled });
      }
    }
  });

  it('each tenant reads only its own rows, in its own schema and among other tenants in the shared one', async () => {
    for (const [em, marker] of [
      [schemaFork('tenant_a', 'a'), 'own-a'],
      [schemaFork('tenant_b', 'b'), 'own-b'],
      [sharedFork('s1'), 'shared-s1'],
      [sharedFork('s2'), 'shared-s2'],
    ] as const) {
      const seen = await readBlog(em);
      expect(seen.length).toBe(2 * (1 + 2 + 1));
      expect(new Set(seen)).toEqual(new Set([marker]));
    }
  });

  it('reads in a tenant schema send no setting and open no transaction; the shared tier sets its setting per transaction', async () => {
    sent.schemaTier.length = 0;
    sent.sharedTier.length = 0;
    await readBlog(schemaFork('tenant_a', 'a'));
    await readBlog(sharedFork('s1'));
    expect(sent.schemaTier.filter((line) => /select/i.test(line)).length).toBeGreaterThanOrEqual(2);
    expect(sent.schemaTier.filter((line) => /set_config|\bbegin\b/i.test(line))).toEqual([]);
    expect(sent.sharedTier.some((line) => /set_config/.test(line))).toBe(true);
  });

  it("a row of another tenant planted in a tenant's own schema stays invisible and untouchable there", async () => {
    await sql(db, `insert into tenant_a.tag (id, name, description, tenant_id) values ('planted', 'typescript', 'SENTINEL', 'b')`);
    try {
      const em = schemaFork('tenant_a', 'a');
      expect(await em.count(Tag, {})).toBe(2);
      // without the ORM's filter, the policy alone still hides it
      expect(await em.execute(`select id from tenant_a.tag where id = 'planted'`)).toEqual([]);
      expect(await em.execute(`update tenant_a.tag set description = 'x' where id = 'planted' returning id`)).toEqual([]);
    } finally {
      await sql(db, `delete from tenant_a.tag where id = 'planted'`);
    }
  });

  it('the shared tier without the setting sees and writes nothing', async () => {
    const em = sharedTier.em.fork({ schema: SHARED_SCHEMA, disableContextResolution: true }) as EntityManager;
    expect(await em.execute(`select count(*)::int as n from ${SHARED_SCHEMA}.author`)).toEqual([{ n: 0 }]);
    await expect(em.execute(`insert into ${SHARED_SCHEMA}.tag (id, name, description) values ('t-none', 'n', 'n')`)).rejects.toThrow(/null value|row-level security/);
  });

  it('a fenced tenant cannot insert, update or delete in the shared tables (55000) while the others write on', async () => {
    await sql(db, `insert into ${SHARED_SCHEMA}.nmt_fenced_tenant (tenant_id) values ('s1')`);
    try {
      const writes = (tenantId: string) => [
        () => sharedFork(tenantId).execute(`insert into ${SHARED_SCHEMA}.tag (id, name, description) values ('${tenantId}-tg-fence', 'fence', 'x')`),
        () => sharedFork(tenantId).execute(`update ${SHARED_SCHEMA}.tag set description = 'moved?' where name = 'typescript'`),
        () => sharedFork(tenantId).execute(`delete from ${SHARED_SCHEMA}.article_tags where tag_id = '${tenantId}-tg2'`),
      ];
      for (const write of writes('s1')) await expect(write()).rejects.toMatchObject({ code: '55000' });
      // the ORM path too, and the message names the table, not the tenant
      const em = sharedFork('s1');
      const tag = await em.findOneOrFail(Tag, 's1-tg1');
      tag.description = 'changed while fenced';
      await expect(em.flush()).rejects.toThrow(/writes of this tenant are held while it moves between tiers \(nmt_shared\.tag\)/);
      for (const write of writes('s2')) await write();
      expect(await sql(db, `select id, tenant_id from ${SHARED_SCHEMA}.tag where name = 'fence' order by id`)).toEqual([{ id: 's2-tg-fence', tenant_id: 's2' }]);
      expect(await sql(db, `select tenant_id, description from ${SHARED_SCHEMA}.tag where name = 'typescript' order by tenant_id`)).toEqual([
        { tenant_id: 's1', description: 'shared-s1' },
        { tenant_id: 's2', description: 'moved?' },
      ]);
      expect(await sql(db, `select tenant_id, count(*)::int as n from ${SHARED_SCHEMA}.article_tags group by 1 order by 1`)).toEqual([
        { tenant_id: 's1', n: 2 },
        { tenant_id: 's2', n: 1 },
      ]);
    } finally {
      await sql(db, `delete from ${SHARED_SCHEMA}.nmt_fenced_tenant`);
    }
    const em = sharedFork('s1');
    em.create(Tag, { id: 's1-tg-after', name: 'after', description: 'shared-s1' });
    await em.flush();
    expect(await sql(db, `select tenant_id from ${SHARED_SCHEMA}.tag where id = 's1-tg-after'`)).toEqual([{ tenant_id: 's1' }]);
  });

  it("a move's cleanup setting lets only deletes of the fenced tenant it names through (the mark stays for stale instances)", async () => {
    const em = sharedFork('s1');
    em.create(Tag, { id: 's1-tg-clean', name: 'clean', description: 'shared-s1' });
    await em.flush();
    await sql(db, `insert into ${SHARED_SCHEMA}.nmt_fenced_tenant (tenant_id) values ('s1')`);
    try {
      const inCleanup = (tenantId: string, named: string, statement: string) =>
        sharedFork(tenantId).transactional(async (t) => {
          await t.execute(`select set_config('${FENCE_CLEANUP_SETTING}', '${named}', true)`);
          return t.execute(statement);
        });
      const remove = `delete from ${SHARED_SCHEMA}.tag where id = 's1-tg-clean' returning id`;
      // naming another tenant, or inserting, under the setting is still refused
      await expect(inCleanup('s1', 's2', remove)).rejects.toMatchObject({ code: '55000' });
      await expect(inCleanup('s1', 's1', `insert into ${SHARED_SCHEMA}.tag (id, name, description) values ('s1-tg-sneak', 'sneak', 'x')`)).rejects.toMatchObject({ code: '55000' });
      expect(await inCleanup('s1', 's1', remove)).toEqual([{ id: 's1-tg-clean' }]);
      // and the setting reaches no other tenant's rows: row-level security still scopes the session
      expect(await inCleanup('s1', 's2', `delete from ${SHARED_SCHEMA}.tag where id = 's2-tg1' returning id`)).toEqual([]);
      expect(await sql(db, `select id from ${SHARED_SCHEMA}.tag where id in ('s1-tg-clean', 's1-tg-sneak', 's2-tg1') order by id`)).toEqual([{ id: 's2-tg1' }]);
    } finally {
      await sql(db, `delete from ${SHARED_SCHEMA}.nmt_fenced_tenant`);
    }
  });

  it("a move's cleanup passes the updates its deletes cascade to (on delete set null), and only those", async () => {
    // a child table with the fence trigger and a nullable reference to tag, as MikroORM makes for an optional m:1
    await sql(
      db,
      `create table ${SHARED_SCHEMA}.pin (id text primary key, tenant_id text not null, tag_id text references ${SHARED_SCHEMA}.tag (id) on delete set null);
       create trigger nmt_fence before insert or update or delete on ${SHARED_SCHEMA}.pin for each row execute function ${SHARED_SCHEMA}.nmt_refuse_fenced();
       insert into ${SHARED_SCHEMA}.tag (id, tenant_id, name, description) values ('s1-tg-pinned', 's1', 'pinned', 'x');
       insert into ${SHARED_SCHEMA}.pin values ('s1-pin', 's1', 's1-tg-pinned');
       insert into ${SHARED_SCHEMA}.nmt_fenced_tenant (tenant_id) values ('s1')`,
    );
    try {
      const inCleanup = (statement: string) =>
        sharedFork('s1').transactional(async (t) => {
          await t.execute(`select set_config('${FENCE_CLEANUP_SETTING}', 's1', true)`);
          return t.execute(statement);
        });
      // an update that changes the row's tenant is not one a cleanup's delete cascades to
      await expect(inCleanup(`update ${SHARED_SCHEMA}.pin set tenant_id = 's2'`)).rejects.toMatchObject({ code: expect.stringMatching(/55000|42501/) });
      expect(await inCleanup(`delete from ${SHARED_SCHEMA}.tag where id = 's1-tg-pinned' returning id`)).toEqual([{ id: 's1-tg-pinned' }]);
      expect(await sql(db, `select id, tag_id from ${SHARED_SCHEMA}.pin`)).toEqual([{ id: 's1-pin', tag_id: null }]);
    } finally {
      await sql(db, `delete from ${SHARED_SCHEMA}.nmt_fenced_tenant; drop table ${SHARED_SCHEMA}.pin`);
    }
  });

  it("makes each shared table's (tenant, primary key) index its replica identity, and leaves tenant schemas alone", async () => {
    const identities = await sql<{ schema: string; table: string; identity: string; index: string | null }>(
      db,
      `select n.nspname as schema, c.relname as table, c.relreplident as identity,
              (select ic.relname from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = c.oid and i.indisreplident) as index
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('tenant_a', $1) and c.relkind = 'r' and c.relname = any($2) order by n.nspname collate "C", c.relname collate "C"`,
      [SHARED_SCHEMA, TENANT_TABLES],
    );
    const tables = [...TENANT_TABLES].sort();
    expect(identities).toEqual([
      ...tables.map((table) => ({ schema: SHARED_SCHEMA, table, identity: 'i', index: `${table}_tenant_key_unique` })),
      ...tables.map((table) => ({ schema: 'tenant_a', table, identity: 'd', index: null })),
    ]);
  });

  it("quotes a tenant id into its schema's nmt_tenant() as a literal, whatever it holds", async () => {
    const hostile = `x'); drop table tenant_a.author; --`;
    await sql(db, `create schema hostile; ${tenantFunctionSql('hostile', { tenantId: hostile }, 'text')}`);
    expect(await sql(db, `select hostile.nmt_tenant() as id`)).toEqual([{ id: hostile }]);
    expect(await sql(db, `select count(*)::int as n from tenant_a.author`)).toEqual([{ n: 2 }]);
  });
});
