/**
 * Isolation conformance, schema mode (issue 12): the relational model in tenant schemas of ONE database, which is
 * also the hub (tenant table) and has look-alike sentinel rows in `public` with the same keys and unique values.
 * Every query path goes through the injected tenant EntityManager; PostgreSQL is asked what happened.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { TenancyError } from '../../src/index.js';
import type { StartedApp } from '../fixtures/relational/app.js';
import { type ConformanceEnv, TENANTS, conformanceHelpers, describeConformance, describeHostileListedId } from '../fixtures/relational/conformance.js';
import { authorOf, tagIdsOf } from '../fixtures/relational/dataset.js';
import { Article, Author, Tag, type TenantRow } from '../fixtures/relational/entities.js';
import { RawSql } from '../fixtures/relational/places.js';
import { startSchemaConformance } from '../fixtures/relational/schema-conformance-env.js';
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { TestDatabases } from '../support/test-databases.js';

const databases = new TestDatabases();
const raw = new RawSql();
const migrations = migrationsFolder('schema');
let env: ConformanceEnv;
let app: StartedApp | undefined;

beforeAll(async () => {
  env = await startSchemaConformance({ databases, raw, migrationsPath: migrations.path });
  app = env.app;
});

afterAll(async () => {
  await app?.close();
  await raw.close();
  await databases.dropAll();
  migrations.dispose();
});

describe('isolation conformance (schema mode, hub and tenants in one database, sentinels in public)', () => {
  describeConformance(() => env);

  describeHostileListedId(
    () => env,
    {
      add: async (id) => void (await raw.exec(env.hubDb, 'insert into tenant (id, suspended) values ($1, false)', [id])),
      remove: async (id) => void (await raw.exec(env.hubDb, 'delete from tenant where id = $1', [id])),
    },
    async (needle) => (await raw.exec(env.hubDb, 'select nspname from pg_namespace where lower(nspname) like $1', [`%${needle}%`])).rows.map((r) => r.nspname as string),
  );

  it('an unqualified raw query through the tenant EntityManager fails (relation does not exist) instead of reading public', async () => {
    const { inTenant } = conformanceHelpers(() => env);
    for (const run of [(em: EntityManager) => em.execute('select * from article'), (em: EntityManager) => em.getConnection().execute('select * from article')]) {
      const outcome = await inTenant('t1', run).then(
        (rows) => ({ rows }),
        (error: Error) => ({ error: error.message }),
      );
      expect(outcome).toEqual({ error: expect.stringMatching(/relation "article" does not exist/) });
    }
  });
});

describe('regressions found on a relational app (schema mode)', () => {
  const helpers = () => conformanceHelpers(() => env);
  beforeEach(async () => {
    for (const t of TENANTS) await raw.reseed(env.tenants[t]);
  });
  afterEach(() => env.sentinels.restoreIfChanged());

  it('#1 the article list with an author join returns the tenant author, not the public look-alike', async () => {
    for (const t of TENANTS) {
      const d = helpers().ds(t);
      const list = await helpers().within(t, (em) => em.find(Article, {}, { populate: ['author'], strategy: 'joined', orderBy: { id: 'asc' } }));
      expect(list.map((a) => `${a.id}:${a.author.$.displayName}`)).toEqual(d.articles.map((a) => `${a.id}:${authorOf(d, a.authorId).displayName}`));
    }
  });

  it('#2 a many-to-many insert lands in the tenant pivot (not public.article_tags), and the same call works in the next tenant', async () => {
    for (const t of TENANTS) {
      const d = helpers().ds(t);
      await helpers().within(t, async (em) => {
        const article = await em.findOneOrFail(Article, 'ar3', { populate: ['tags'] });
        article.tags.add(em.getReference(Tag, 'tg2'));
        await em.flush();
      });
      expect(await helpers().column(t, "select tag_id from {article_tags} where article_id = 'ar3' order by 1")).toEqual([...new Set([...tagIdsOf(d, 'ar3'), 'tg2'])].sort());
    }
  });

  it('#3 a self many-to-many follow is written to the tenant pivot', async () => {
    for (const t of TENANTS) {
      await helpers().within(t, async (em) => {
        const author = await em.findOneOrFail(Author, 'a3', { populate: ['following'] });
        author.following.add(em.getReference(Author, 'a2'));
        await em.flush();
      });
      expect(await helpers().column(t, "select count(*)::int from {author_following} where author_1_id = 'a3' and author_2_id = 'a2'")).toEqual([1]);
    }
  });

  it('#4 em.getKysely() queries the tenant schema', async () => {
    for (const t of TENANTS) {
      const d = helpers().ds(t);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const titles = await helpers().within(t, async (em) => (await em.getKysely<any>().selectFrom('article').select('title').orderBy('id').execute()).map((r: { title: string }) => r.title));
      expect(titles).toEqual(d.articles.map((a) => a.title));
    }
  });

  it("#6 a tenant whose record derives another tenant's schema (evil2 -> tenant_t1) is refused at create and at use, never served t1's rows", async () => {
    const { lifecycle, tenancy, em, app: running } = env;
    const t1Titles = helpers().ds('t1').articles.map((a) => a.title);
    const t1Before = await raw.snapshot(env.tenants.t1);

    const refused = await lifecycle.create('evil2', { schemaName: 'tenant_t1' } as Partial<TenantRow>).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeDefined();
    const status = (refused as { status?: number; getStatus?: () => number }).getStatus?.() ?? (refused as { status?: number }).status;
    expect({ conflictOrTenancyError: status === 409 || refused instanceof TenancyError, message: (refused as Error).message }).toEqual({
      conflictOrTenancyError: true,
      message: expect.stringContaining('evil2'),
    });
    expect((await raw.exec(env.hubDb, "select id from tenant where id = 'evil2'")).rows).toEqual([]);
    expect(await raw.snapshot(env.tenants.t1)).toEqual(t1Before);

    await raw.exec(env.hubDb, "insert into tenant (id, suspended, schema_name) values ('evil2', false, 'tenant_t1')");
    try {
      const served = await tenancy.run('evil2', () => em.find(Article, {}, { orderBy: { id: 'asc' } })).then(
        (list) => ({ titles: list.map((a) => a.title) }),
        (error: Error) => ({ error: error.message }),
      );
      expect(served).toEqual({ error: expect.stringContaining('evil2') });
      const overHttp = await running.request('/articles', { headers: { 'x-tenant-id': 'evil2' } });
      expect(overHttp.status).toBeGreaterThanOrEqual(400);
      expect(JSON.stringify(overHttp.body)).not.toContain('t1 ');
      // t1 itself is still served its own rows
      expect((await tenancy.run('t1', () => em.find(Article, {}, { orderBy: { id: 'asc' } }))).map((a) => a.title)).toEqual(t1Titles);
    } finally {
      await raw.exec(env.hubDb, "delete from tenant where id = 'evil2'");
    }
    expect(await raw.snapshot(env.tenants.t1)).toEqual(t1Before);
  });
});
