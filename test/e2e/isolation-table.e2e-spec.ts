/**
 * Shared-table isolation (issue 15): the relational model in tables every tenant shares, on a real PostgreSQL, with
 * the app connected as a role that row-level security binds. Next to t1 and t2, look-alike rows no registered
 * tenant owns (a `ghost` tenant, `T1`, and a row with an empty tenant_id) sit in the same tables with the same
 * unique values. Every query path goes through the injected tenant EntityManager; PostgreSQL, read as a superuser,
 * says what happened: after each step, every other place's rows are exactly as before (row versions included).
 */
import { type EntityManager, RowLevelSecurityViolationException, wrap } from '@mikro-orm/postgresql';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  ContextMigrations,
  MikroTenancyModule,
  TenancyService,
  TenantColumnMismatchError,
  TenantKyselyNeedsTransactionError,
  TenantLifecycle,
  TenantRoleBypassesRlsError,
  TenantStores,
  getEntityManagerToken,
} from '../../src/index.js';
import { BlogController, CapturingLogger, type StartedApp, hubContextConfig, startBlogApp, tenantTemplateConfig } from '../fixtures/relational/app.js';
import {
  articleIdsByUsername,
  articleIdsWithTag,
  authorByUsername,
  authorOf,
  favoriteArticleIdsOf,
  followersOf,
  followingOf,
  tagIdsOf,
  visibleCommentsOf,
} from '../fixtures/relational/dataset.js';
import { Article, Author, Comment, Content, Favorite, Note, Tag, TenantRow } from '../fixtures/relational/entities.js';
import { migrationsFolder, modelDdl } from '../fixtures/relational/setup.js';
import { type SharedPlace, SharedTablesSql, TABLES, placeDataset } from '../fixtures/shared-tables/places.js';
import { TestDatabases, databaseUrl, sql, uniqueName } from '../support/test-databases.js';

type TenantId = 't1' | 't2';
const TENANTS: TenantId[] = ['t1', 't2'];
const PLACES: Record<string, SharedPlace> = {
  t1: { label: 't1', tenantId: 't1', marker: 't1', variant: 't1' },
  t2: { label: 't2', tenantId: 't2', marker: 't2', variant: 't2' },
  ghost: { label: 'ghost', tenantId: 'ghost', marker: 'SENTINEL-ghost', variant: 'sentinel' },
  T1: { label: 'T1', tenantId: 'T1', marker: 'SENTINEL-T1', variant: 'sentinel' },
};
const k = (t: string, id: string) => `${t}-${id}`;
const ids = (items: { id: string }[]) => items.map((i) => i.id).sort();

const databases = new TestDatabases();
const migrations = migrationsFolder('table');
const role = uniqueName('app_role').toLowerCase();
let db: string;
let raw: SharedTablesSql;
let app: StartedApp;
let em: EntityManager;
let tenancy: TenancyService;
let lifecycle: TenantLifecycle;
const logger = new CapturingLogger();

/** The module of an app on the shared tables; `user` is the role both contexts connect as. */
const tableModule = (user: { user: string; password?: string } | undefined, sharedTables: Record<string, unknown> = {}) =>
  MikroTenancyModule.forRoot({
    contexts: { default: { ...hubContextConfig(db), ...user } },
    tenancy: {
      isolation: 'table',
      config: tenantTemplateConfig(db, migrations.path, { ...user }),
      store: TenantStores.table(TenantRow),
      cacheTtlMs: 0,
      sharedTables,
    },
  });

beforeAll(async () => {
  db = await databases.create('iso_table');
  raw = new SharedTablesSql(db);
  await sql(db, `create role "${role}" login password 'pw'`);
  // the owner (the test's superuser) creates the tables; the app role gets row privileges on them, nothing more
  await raw.exec(
    `grant usage on schema public to "${role}"; alter default privileges in schema public grant select, insert, update, delete on tables to "${role}"; ` +
      `alter default privileges in schema public grant usage, select on sequences to "${role}"`,
  );
  await raw.exec((await modelDdl()).hub);

  // as the owner (a deploy step, like the CLI): generate the tenant migration and apply it, before any tenant exists
  const owner = await startBlogApp({ imports: [tableModule(undefined, { bypassingRole: 'warn' }), MikroTenancyModule.forFeature([Article], 'tenant')], controllers: [BlogController] }, logger);
  try {
    expect((await owner.app.get(ContextMigrations).create('tenant')).fileName).not.toBe('');
    const report = await owner.app.get(TenantLifecycle).migrate();
    expect({ tenants: report.tenants, shared: report.sharedTables?.status, migrations: report.sharedTables?.migrations.length }).toEqual({ tenants: [], shared: 'migrated', migrations: 1 });
    expect(logger.lines.filter((l) => l.includes('superuser'))).toEqual([expect.stringContaining("sharedTables.bypassingRole: 'warn'")]);
  } finally {
    await owner.close();
  }

  app = await startBlogApp({ imports: [tableModule({ user: role, password: 'pw' }), MikroTenancyModule.forFeature([Article], 'tenant')], controllers: [BlogController] }, logger);
  em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
  tenancy = app.app.get(TenancyService);
  lifecycle = app.app.get(TenantLifecycle);
  // tenants are registered by the app itself: the shared tables exist, so nothing is migrated
  for (const t of TENANTS) expect((await lifecycle.create(t, {}, { seed: false })).migrations).toEqual([]);
  for (const place of Object.values(PLACES)) await raw.reseed(place);
  await raw.exec(`insert into author (id, username, email, display_name, address_city, address_country, tenant_id) values ('empty-a1', 'alice', 'alice@example.com', 'SENTINEL-empty', 'Paris', 'x', '')`);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await raw?.close();
  await databases.dropAll();
  await sql('postgres', `drop role if exists "${role}"`).catch(() => undefined);
  migrations.dispose();
});

const others = (t: string) => Object.keys(PLACES).filter((p) => p !== t);
const snapshotAll = async (labels: string[]) => Object.fromEntries(await Promise.all(labels.map(async (l) => [l, await raw.snapshot(PLACES[l]?.tenantId ?? l)] as const)));
const emptyTenantRows = () => raw.rows(`select xmin::text as v, display_name from author where tenant_id = ''`);

/** Runs `fn` as tenant `t`; afterwards every other place is exactly as before, and no row landed outside the places. */
async function within<R>(t: TenantId, fn: (em: EntityManager) => Promise<R>): Promise<R> {
  const before = { places: await snapshotAll(others(t)), empty: await emptyTenantRows() };
  const result = await tenancy.run(t, () => fn(em));
  expect({ untouched: { places: await snapshotAll(others(t)), empty: await emptyTenantRows() } }).toEqual({ untouched: before });
  expect({ strays: await raw.strays([...Object.values(PLACES).map((p) => p.tenantId), '']) }).toEqual({ strays: {} });
  return result;
}
const ds = (t: TenantId) => placeDataset(PLACES[t] as SharedPlace);

beforeEach(async () => {
  for (const t of TENANTS) await raw.reseed(PLACES[t] as SharedPlace);
});

describe('shared tables: set-up', () => {
  it('the generated migration puts the tenant column first in every unique, and forced row-level security on every table, pivots included', async () => {
    const tables = await raw.rows<{ relname: string; rls: boolean; forced: boolean }>(
      `select relname, relrowsecurity as rls, relforcerowsecurity as forced from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r' and relname = any($1) order by 1`,
      [[...TABLES]],
    );
    expect(tables).toEqual([...TABLES].sort().map((relname) => ({ relname, rls: true, forced: true })));
    const uniques = await raw.column(`select indexdef from pg_indexes where schemaname = 'public' and indexdef like 'CREATE UNIQUE%' and indexname not like '%pkey' and tablename = any($1) order by 1`, [[...TABLES]]);
    expect(uniques.length).toBeGreaterThanOrEqual(3); // author.username, author.email, tag.name
    for (const index of uniques) expect(index).toMatch(/\(tenant_id, /);
    expect((await app.app.get(ContextMigrations).create('tenant')).fileName).toBe('');
  });

  it('the app role is bound by row-level security, and a superuser is refused at boot unless told to warn', async () => {
    const [me] = await raw.rows(`select rolsuper, rolbypassrls from pg_roles where rolname = $1`, [role]);
    expect(me).toEqual({ rolsuper: false, rolbypassrls: false });
    // the same logger: Nest's Logger is process-wide, and the last app created decides where every line goes
    const refused = await startBlogApp({ imports: [tableModule(undefined)], controllers: [] }, logger).then(
      async (started) => {
        await started.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TenantRoleBypassesRlsError);
    expect((refused as Error).message).toMatch(/is a superuser.*row-level security.*bypassingRole: 'warn'/s);
  });
});

describe('shared tables: every query path stays in the tenant', () => {
  for (const strategy of ['joined', 'select-in'] as const) {
    it(`em.find / findOne / findAll with populate (strategy '${strategy}')`, async () => {
      for (const t of TENANTS) {
        const d = ds(t);
        const list = await within(t, (em) => em.find(Article, {}, { populate: ['author.profile', 'tags', 'comments.author'], strategy, orderBy: { id: 'asc' } }));
        expect(list.map((a) => ({ id: a.id, title: a.title, author: a.author.$.displayName, tags: ids(a.tags.getItems()), comments: ids(a.comments.getItems()) }))).toEqual(
          d.articles.map((a) => ({ id: a.id, title: a.title, author: authorOf(d, a.authorId).displayName, tags: tagIdsOf(d, a.id), comments: ids(visibleCommentsOf(d, a.id)) })),
        );
        const authors = await within(t, (em) => em.find(Author, {}, { populate: ['following', 'followers', 'favorites', 'profile'], strategy, orderBy: { id: 'asc' } }));
        expect(authors.map((a) => ({ id: a.id, following: ids(a.following.getItems()), followers: ids(a.followers.getItems()), favorites: ids(a.favorites.getItems()) }))).toEqual(
          d.authors.map((a) => ({ id: a.id, following: followingOf(d, a.id), followers: followersOf(d, a.id), favorites: favoriteArticleIdsOf(d, a.id) })),
        );
        // the same unique values exist in every place: only the tenant's own row is found
        const alice = await within(t, (em) => em.findOneOrFail(Author, { username: 'alice' }));
        expect(alice.id).toBe(authorByUsername(d, 'alice').id);
      }
    });
  }

  it('relation conditions, lazy loading and Collection.matching() (no schema to pass in this mode)', async () => {
    for (const t of TENANTS) {
      const d = ds(t);
      const seen = await within(t, async (em) => {
        const byAlice = ids(await em.find(Article, { author: { username: 'alice' } }));
        const withTs = ids(await em.find(Article, { tags: { $some: { name: 'typescript' } } }));
        const ar1 = await em.findOneOrFail(Article, k(t, 'ar1'));
        await ar1.tags.init();
        const author = await ar1.author.load();
        const a2 = em.getReference(Author, k(t, 'a2'));
        await wrap(a2).init();
        const followers = ids(await a2.followers.matching({ where: { displayName: { $like: `${t}%` } }, orderBy: { id: 'asc' } }));
        return { byAlice, withTs, tags: ids(ar1.tags.getItems()), author: author?.id, a2: a2.displayName, followers, count: await a2.followers.loadCount(true) };
      });
      expect(seen).toEqual({
        byAlice: articleIdsByUsername(d, 'alice'),
        withTs: articleIdsWithTag(d, 'typescript'),
        tags: tagIdsOf(d, k(t, 'ar1')),
        author: d.articles[0]?.authorId,
        a2: authorOf(d, k(t, 'a2')).displayName,
        followers: followersOf(d, k(t, 'a2')),
        count: followersOf(d, k(t, 'a2')).length,
      });
    }
  });

  it('pivots (generated, self-referencing, pivot entity): add and remove write only the tenant rows', async () => {
    for (const t of TENANTS) {
      await within(t, async (em) => {
        const ar3 = await em.findOneOrFail(Article, k(t, 'ar3'), { populate: ['tags'] });
        ar3.tags.set([em.getReference(Tag, k(t, 'tg2'))]);
        const a3 = await em.findOneOrFail(Author, k(t, 'a3'), { populate: ['following', 'favorites'] });
        a3.following.add(em.getReference(Author, k(t, 'a1')));
        a3.favorites.add(em.getReference(Article, k(t, 'ar1')));
        em.create(Favorite, { author: k(t, 'a2'), article: k(t, 'ar3') });
        await em.flush();
      });
      expect(await raw.column(`select tag_id from article_tags where article_id = $1`, [k(t, 'ar3')])).toEqual([k(t, 'tg2')]);
      expect(await raw.column(`select count(*)::int from author_following where author_1_id = $1 and author_2_id = $2`, [k(t, 'a3'), k(t, 'a1')])).toEqual([1]);
      expect(await raw.column(`select tenant_id from favorite where (author_id, article_id) in (($1, $2), ($3, $4))`, [k(t, 'a3'), k(t, 'ar1'), k(t, 'a2'), k(t, 'ar3')])).toEqual([t, t]);
    }
  });

  it('nativeUpdate, nativeDelete, count and findAndCount with relation conditions, and filters: false', async () => {
    for (const t of TENANTS) {
      const d = ds(t);
      const bob = authorByUsername(d, 'bob');
      const result = await within(t, async (em) => ({
        counted: await em.count(Article, { tags: { name: 'typescript' } }),
        // the app's own filters off: the tenant is still the only one seen (row-level security)
        everything: (await em.find(Author, {}, { filters: false })).map((a) => a.id).sort(),
        renamed: await em.nativeUpdate(Article, { author: { username: 'alice' } }, { title: `${t} renamed` }),
        uncommented: await em.nativeDelete(Comment, { author: { username: 'bob' } }, { filters: false }),
        notes: await em.count(Note),
      }));
      expect(result).toEqual({
        counted: articleIdsWithTag(d, 'typescript').length,
        everything: ids(d.authors),
        renamed: articleIdsByUsername(d, 'alice').length,
        uncommented: d.comments.filter((c) => c.authorId === bob.id).length,
        notes: d.contents.filter((c) => c.kind === 'note').length,
      });
      expect(await raw.column(`select id from article where tenant_id = $1 and title = $2 order by 1`, [t, `${t} renamed`])).toEqual(articleIdsByUsername(d, 'alice'));
    }
  });

  it('inserts fill the tenant column: em.create + flush, em.insert, insertMany, upsert (per-tenant unique), QueryBuilder insert, raw SQL', async () => {
    for (const t of TENANTS) {
      await within(t, async (em) => {
        em.create(Tag, { id: k(t, 'tg7'), name: 'flushed', description: `${t} flushed` });
        await em.flush();
        await em.insert(Tag, { id: k(t, 'tg8'), name: 'inserted', description: `${t} inserted` });
        await em.insertMany(Comment, [{ id: k(t, 'c9'), body: `${t} many`, hidden: false, article: k(t, 'ar1'), author: k(t, 'a1') }]);
        // "typescript" exists in every place: the upsert's conflict is the tenant's own row
        await em.upsert(Tag, { id: ds(t).tags.find((g) => g.name === 'typescript')?.id as string, name: 'typescript', description: `${t} upserted` }, { onConflictFields: ['tenantId' as never, 'name'] });
        await em.createQueryBuilder(Tag).insert({ id: k(t, 'tg9'), name: 'qb', description: `${t} qb` }).execute();
        await em.execute(`insert into tag (id, name, description) values ('${k(t, 'tg6')}', 'raw', '${t} raw')`);
      });
      expect(await raw.rows(`select id, tenant_id, description from tag where id = any($1) order by id`, [[k(t, 'tg6'), k(t, 'tg7'), k(t, 'tg8'), k(t, 'tg9')]])).toEqual(
        ['tg6', 'tg7', 'tg8', 'tg9'].map((id) => ({ id: k(t, id), tenant_id: t, description: `${t} ${{ tg6: 'raw', tg7: 'flushed', tg8: 'inserted', tg9: 'qb' }[id]}` })),
      );
      expect(await raw.column(`select description from tag where tenant_id = $1 and name = 'typescript'`, [t])).toEqual([`${t} upserted`]);
    }
  });

  it('QueryBuilder and raw SQL that name no tenant, and a query forgetting the filter, still reach only the tenant rows', async () => {
    for (const t of TENANTS) {
      const d = ds(t);
      const seen = await within(t, async (em) => ({
        qb: (await em.createQueryBuilder(Author, 'a').select('a.id').leftJoin('a.articles', 'ar').groupBy('a.id').orderBy({ id: 'asc' }).execute<{ id: string }[]>()).map((r) => r.id),
        qbCount: await em.createQueryBuilder(Comment).getCount(),
        raw: (await em.execute<{ id: string }[]>('select id from author order by id')).map((r) => r.id),
        rawJoin: (await em.execute<{ n: number }[]>('select count(*)::int as n from article a join author u on u.id = a.author_id join article_tags p on p.article_id = a.id'))[0]?.n,
        updated: await em.createQueryBuilder(Author).update({ displayName: `${t} everyone` }).execute('run'),
        rawUpdate: (await em.execute('update tag set description = description', [], 'run')) as unknown,
      }));
      expect({ ...seen, updated: (seen.updated as { affectedRows: number }).affectedRows, rawUpdate: (seen.rawUpdate as { affectedRows: number }).affectedRows }).toEqual({
        qb: ids(d.authors),
        qbCount: d.comments.length,
        raw: ids(d.authors),
        rawJoin: d.articleTags.length,
        updated: d.authors.length,
        rawUpdate: d.tags.length,
      });
    }
  });

  it('em.getKysely() reaches the tenant rows inside a transaction, and outside one is refused with the fix', async () => {
    for (const t of TENANTS) {
      const d = ds(t);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const titles = await within(t, (em) => em.transactional(async (tx) => (await tx.getKysely<any>().selectFrom('article').select('title').orderBy('id').execute()).map((r: { title: string }) => r.title)));
      expect(titles).toEqual(d.articles.map((a) => a.title));
      const outside = await tenancy.run(t, async () => {
        try {
          em.getKysely();
          return undefined;
        } catch (error) {
          return error;
        }
      });
      expect(outside).toBeInstanceOf(TenantKyselyNeedsTransactionError);
      expect((outside as Error).message).toContain('em.transactional');
    }
  });

  it('em.stream inside a transaction, em.transactional with awaits across two tenants at once, and a rollback that leaves nothing', async () => {
    const run = async (t: TenantId) =>
      tenancy.run(t, () =>
        em.transactional(async (tx) => {
          tx.create(Tag, { id: k(t, 'tx1'), name: 'tx', description: `${t} tx` });
          await tx.flush();
          await sleep(30);
          const streamed: string[] = [];
          for await (const a of tx.stream(Author, { orderBy: { id: 'asc' } })) streamed.push(a.id);
          await sleep(30);
          return { streamed, tags: (await tx.find(Tag, {}, { orderBy: { id: 'asc' } })).map((g) => g.id) };
        }),
      );
    const [r1, r2] = await Promise.all([run('t1'), run('t2')]);
    for (const [t, r] of [['t1', r1], ['t2', r2]] as const) {
      expect(r).toEqual({ streamed: ids(ds(t).authors), tags: [...ids(ds(t).tags), k(t, 'tx1')].sort() });
      expect(await raw.column(`select tenant_id from tag where id = $1`, [k(t, 'tx1')])).toEqual([t]);
    }
    const failed = await tenancy.run('t1', () => em.transactional(async (tx) => {
      tx.create(Tag, { id: 'rolled-back', name: 'gone', description: 'x' });
      await tx.flush();
      throw new Error('stop');
    })).catch((error: Error) => error.message);
    expect(failed).toBe('stop');
    expect(await raw.column(`select count(*)::int from tag where id = 'rolled-back'`)).toEqual([0]);
  });

  it("result cache: a tenant never gets another tenant's cached result", async () => {
    const first = await tenancy.run('t1', () => em.find(Author, {}, { cache: ['authors', 60_000], orderBy: { id: 'asc' } }));
    const second = await tenancy.run('t2', () => em.find(Author, {}, { cache: ['authors', 60_000], orderBy: { id: 'asc' } }));
    expect(ids(first)).toEqual(ids(ds('t1').authors));
    expect(ids(second)).toEqual(ids(ds('t2').authors));
  });
});

describe('shared tables: writes the ORM and PostgreSQL refuse', () => {
  it("a flush creating a row with another tenant's value, or moving a row, is refused and writes nothing", async () => {
    const snapshot = await snapshotAll(Object.keys(PLACES));
    const created = await tenancy.run('t1', async () => {
      em.create(Tag, { id: 't1-evil', name: 'evil', description: 'x', tenantId: 't2' } as never);
      return em.flush().catch((error: unknown) => error);
    });
    expect(created).toBeInstanceOf(TenantColumnMismatchError);
    expect((created as Error).message).not.toContain("'t2'");
    const moved = await tenancy.run('t1', async () => {
      const tag = await em.findOneOrFail(Tag, k('t1', 'tg1'));
      (tag as unknown as { tenantId: string }).tenantId = 't2';
      return em.flush().catch((error: unknown) => error);
    });
    expect(moved).toBeInstanceOf(TenantColumnMismatchError);
    expect(await snapshotAll(Object.keys(PLACES))).toEqual(snapshot);
  });

  it("raw SQL writing another tenant's rows is refused by PostgreSQL, and reading them sees nothing", async () => {
    const snapshot = await snapshotAll(Object.keys(PLACES));
    const outcome = await tenancy.run('t1', async () => ({
      insert: await em.execute(`insert into tag (id, name, description, tenant_id) values ('x-1', 'x', 'x', 't2')`).then(() => 'written', (error: unknown) => error),
      update: await em.execute(`update tag set description = 'moved' where tenant_id = 't2'`, [], 'run'),
      move: await em.execute(`update tag set tenant_id = 't2' where id = '${k('t1', 'tg1')}'`, [], 'run').then(() => 'written', (error: unknown) => error),
      read: await em.execute(`select id from author where tenant_id in ('t2', 'ghost', 'T1', '')`),
    }));
    expect(outcome.insert).toBeInstanceOf(RowLevelSecurityViolationException);
    expect(outcome.move).toBeInstanceOf(RowLevelSecurityViolationException);
    expect((outcome.update as unknown as { affectedRows: number }).affectedRows).toBe(0);
    expect(outcome.read).toEqual([]);
    expect(await snapshotAll(Object.keys(PLACES))).toEqual(snapshot);
  });

  it('a connection of the app role without the tenant setting reads no rows and can write none', async () => {
    const url = new URL(databaseUrl(db));
    url.username = role;
    url.password = 'pw';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      expect((await client.query('select count(*)::int as n from author')).rows).toEqual([{ n: 0 }]);
      const written = await client.query(`insert into tag (id, name, description) values ('nobody', 'x', 'x')`).then(() => 'written', (error: Error) => error.message);
      expect(written).toMatch(/violates (not-null constraint|row-level security)/);
      // a setting reset to the empty string (what a pooled connection keeps after a transaction) is no tenant either
      await client.query(`begin; select set_config('nmt.tenant_id', 't1', true); commit`);
      expect((await client.query(`select current_setting('nmt.tenant_id', true) as s, (select count(*)::int from author) as n`)).rows).toEqual([{ s: '', n: 0 }]);
      // and a session-level setting to an id no tenant has shows nothing
      await client.query(`set nmt.tenant_id = 'nobody'`);
      expect((await client.query('select count(*)::int as n from author')).rows).toEqual([{ n: 0 }]);
    } finally {
      await client.end();
    }
  });
});

describe('shared tables: lifecycle and HTTP', () => {
  it('over HTTP: the list with author and tags, tagging an article; bad and unknown ids get 400 and 404', async () => {
    for (const t of TENANTS) {
      const d = ds(t);
      const list = await app.request('/articles', { headers: { 'x-tenant-id': t } });
      expect(list.status).toBe(200);
      expect((list.body as { id: string; author: { id: string } }[]).map((a) => `${a.id}:${a.author.id}`)).toEqual(d.articles.map((a) => `${a.id}:${a.authorId}`));
      const tagged = await app.request(`/articles/${k(t, 'ar3')}/tags/${k(t, 'tg1')}`, { method: 'POST', headers: { 'x-tenant-id': t } });
      expect(tagged.status).toBe(201);
      // another tenant's tag id cannot be attached: it is not visible, so the pivot's policy refuses the row
      const foreign = await app.request(`/articles/${k(t, 'ar3')}/tags/${k(t === 't1' ? 't2' : 't1', 'tg2')}`, { method: 'POST', headers: { 'x-tenant-id': t } });
      expect({ status: foreign.status, message: (foreign.body as { message: string }).message }).toEqual({ status: 403, message: expect.stringContaining(`tenant '${t}'`) });
    }
    expect((await app.request('/articles', { headers: { 'x-tenant-id': 'Bad Id' } })).status).toBe(400);
    expect((await app.request('/articles', { headers: { 'x-tenant-id': 'ghost' } })).status).toBe(404);
  });

  it('create registers a tenant on the shared tables; drop deletes only its rows, and a rerun is a no-op', async () => {
    await lifecycle.create('t3', {}, { seed: false });
    await tenancy.run('t3', async () => {
      const author = em.create(Author, { id: 't3-a1', username: 'alice', email: 'alice@example.com', displayName: 't3', address: { city: 'Oslo', country: 'no' } });
      em.create(Article, { id: 't3-ar1', title: 't3 one', published: true, author });
      const article = em.create(Article, { id: 't3-ar2', title: 't3 two', published: false, author });
      article.tags.add(em.create(Tag, { id: 't3-tg1', name: 'typescript', description: 't3' }));
      em.create(Comment, { id: 't3-c1', body: 't3', hidden: false, article, author });
      await em.flush();
    });
    const before = await snapshotAll(Object.keys(PLACES));
    expect(await lifecycle.drop('t3', { confirm: 't3' })).toEqual({ tenantId: 't3', dropped: true, registered: true, storageExisted: true });
    expect(await raw.strays([...Object.values(PLACES).map((p) => p.tenantId), ''])).toEqual({});
    expect(await raw.column(`select count(*)::int from article_tags where article_id like 't3-%'`)).toEqual([0]);
    expect(await snapshotAll(Object.keys(PLACES))).toEqual(before);
    expect(logger.lines.filter((line) => line.includes("Tenant 't3': deleted its rows"))).toEqual([expect.stringMatching(/"comment": 1, "article": 2, "author": 1/)]);
    expect(await lifecycle.drop('t3', { confirm: 't3' })).toEqual({ tenantId: 't3', dropped: false, registered: false, storageExisted: false });
    // the drop's mark: no write of 't3' lands any more, by any path (a unit of work that outlived the drop, say)
    const late = await tenancy
      .run('t1', () =>
        em.transactional(async (tx) => {
          await tx.execute(`select set_config('nmt.tenant_id', 't3', true)`); // what the unit's own transactions set
          await tx.execute(`insert into tag (id, name, description) values ('t3-late', 'x', 'x')`);
        }),
      )
      .then(() => 'written', (error: Error) => error.name);
    expect(late).toBe('RowLevelSecurityViolationException');
    // rows of the dropped tenant left behind (a drop cut short): creating it again is refused until the drop is finished
    await raw.exec(`insert into tag (id, name, description, tenant_id) values ('t3-left', 'x', 'x', 't3')`);
    const refused = await lifecycle.create('t3', {}, { seed: false }).catch((error: Error) => error);
    expect(refused).toMatchObject({ status: 409, message: expect.stringContaining("rows of it remain in the shared tables") });
    expect(await lifecycle.drop('t3', { confirm: 't3' })).toEqual({ tenantId: 't3', dropped: true, registered: false, storageExisted: true });
    // then it starts clean, and writes again
    await lifecycle.create('t3', {}, { seed: false });
    await tenancy.run('t3', () => em.insert(Tag, { id: 't3-again', name: 'again', description: 't3' }));
    expect(await raw.column(`select id from tag where tenant_id = 't3' order by id`)).toEqual(['t3-again']);
    await lifecycle.drop('t3', { confirm: 't3' });
  });

  it('TenantLifecycle.migrate() runs the shared tables once and reports the outcome for every tenant', async () => {
    const report = await lifecycle.migrate({ concurrency: 4 });
    expect(report.sharedTables?.status).toBe('up-to-date');
    expect(report.tenants.map((r) => `${r.tenantId}:${r.status}`).sort()).toEqual(['t1:up-to-date', 't2:up-to-date']);
    expect(logger.lines.filter((l) => l.includes('shared tables: 0 migration(s) run once for every tenant'))).toHaveLength(1);
  });

  it('two tenants interleaved, each with awaits between its queries, see and write only their own rows', async () => {
    const work = (t: TenantId) =>
      tenancy.run(t, async () => {
        const seen: string[][] = [];
        for (let i = 0; i < 5; i++) {
          seen.push(ids(await em.find(Author, {})));
          await sleep(5);
          em.create(Comment, { id: k(t, `i${i}`), body: `${t} interleaved`, hidden: false, article: k(t, 'ar1'), author: k(t, 'a1') });
          await em.flush();
        }
        return seen;
      });
    const [s1, s2] = await Promise.all([work('t1'), work('t2')]);
    expect(new Set(s1.map((s) => s.join()))).toEqual(new Set([ids(ds('t1').authors).join()]));
    expect(new Set(s2.map((s) => s.join()))).toEqual(new Set([ids(ds('t2').authors).join()]));
    for (const t of TENANTS) expect(await raw.column(`select tenant_id from comment where body = $1`, [`${t} interleaved`])).toEqual(Array(5).fill(t));
  });
});

void Content;
