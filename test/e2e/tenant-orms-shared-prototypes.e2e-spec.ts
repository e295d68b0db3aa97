/**
 * Database isolation keeps one MikroORM per tenant database, all on the same entity classes, and MikroORM decorates
 * the entity prototypes at every init (the last ORM initialised wins). A tenant whose ORM was opened before another
 * tenant's must still flush only what it changed: before src/isolation/shared-hydration-state.ts, loading an author
 * in t1 after t2's ORM was opened made t1's next flush write `update "profile" set "author_id" = <same value>` (row
 * locks nobody asked for, deadlocks under concurrent writes). Real PostgreSQL, two tenant databases; the statements
 * come from the tenant ORMs' query log, the row versions from PostgreSQL.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ContextMigrations, MikroTenancyModule, TenancyService, TenantLifecycle, TenantStores, getEntityManagerToken } from '../../src/index.js';
import { hubContextConfig, tenantTemplateConfig } from '../fixtures/relational/app.js';
import { Article, Author, Comment, TenantRow } from '../fixtures/relational/entities.js';
import { type Place, RawSql } from '../fixtures/relational/places.js';
import { migrationsFolder, modelDdl } from '../fixtures/relational/setup.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, uniqueName } from '../support/test-databases.js';

const databases = new TestDatabases();
const raw = new RawSql();
const migrations = migrationsFolder('prototypes');
const prefix = uniqueName('protodb');
const places: Record<'t1' | 't2', Place> = {
  t1: { label: 't1', db: `${prefix}_t1`, schema: 'public', marker: 't1', variant: 't1' },
  t2: { label: 't2', db: `${prefix}_t2`, schema: 'public', marker: 't2', variant: 't2' },
};
/** Every statement the tenant ORMs ran (their query log). */
const statements: string[] = [];
let hubDb: string;

const metadata = () => ({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: { default: hubContextConfig(hubDb) },
      tenancy: {
        isolation: 'database' as const,
        config: tenantTemplateConfig(hubDb, migrations.path, { debug: ['query', 'query-params'], logger: (line: string) => statements.push(line) }),
        store: TenantStores.table(TenantRow),
        database: (tenant: { id: string }) => ({ dbName: `${prefix}_${tenant.id}` }),
      },
    }),
  ],
});

/** The writes among the statements logged since `from` (colours stripped). */
const writesSince = (from: number) =>
  statements
    .slice(from)
    .map((line) => line.replace(/\u001b\[[0-9;]*m/g, '').replace(/^\[query\] /, ''))
    .filter((line) => /^(update|insert|delete)\b/i.test(line));

/** Row versions (xmin) of a tenant's seeded authors and profiles: an update writing the same values changes them too. */
const rowVersions = async (place: Place) =>
  raw.column(place, `select id || ' ' || xmin::text from {profile} union all select id || ' ' || xmin::text from {author} order by 1`);

beforeAll(async () => {
  hubDb = await databases.create('protohub');
  await raw.exec(hubDb, (await modelDdl()).hub);
  const setup = await startApp(metadata());
  try {
    await setup.app.get(ContextMigrations).create('tenant');
    for (const tenantId of ['t1', 't2']) await setup.app.get(TenantLifecycle).create(tenantId, {}, { seed: false });
  } finally {
    await setup.close();
  }
  for (const place of Object.values(places)) await raw.reseed(place);
});

afterAll(async () => {
  await raw.close();
  await databases.dropAll(prefix);
  migrations.dispose();
});

describe('database isolation: tenant ORMs on the same entity classes', () => {
  let app: RunningApp;
  let tenancy: TenancyService;
  let em: EntityManager;

  beforeAll(async () => {
    app = await startApp(metadata());
    tenancy = app.app.get(TenancyService);
    em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
    // t1's ORM opens first, t2's last: t2's ORM is the one that decorated the entity prototypes
    await tenancy.run('t1', () => em.find(Author, {}));
    await tenancy.run('t2', () => em.find(Author, {}));
  });
  afterAll(() => app.close());

  it.each(['t1', 't2'] as const)("a flush in %s after loading authors with their 1:1 profiles writes nothing", async (tenantId) => {
    const before = await rowVersions(places[tenantId]);
    const from = statements.length;
    const loaded = await tenancy.run(tenantId, async () => {
      // each run() has a fresh fork of the tenant's ORM: nothing loaded before, nothing changed since
      const authors = await em.find(Author, {}, { orderBy: { id: 'asc' } });
      await em.flush();
      return authors.map((author) => [author.id, author.profile?.id ?? null]);
    });
    expect(loaded.filter(([, profile]) => profile !== null).length).toBe(2); // the seeded 1:1s really were loaded
    expect(writesSince(from)).toEqual([]);
    expect(await rowVersions(places[tenantId])).toEqual(before);
  });

  it.each(['t1', 't2'] as const)('a transaction in %s that adds a comment writes only the comment', async (tenantId) => {
    const before = await rowVersions(places[tenantId]);
    const commentId = `cx-${tenantId}`;
    const from = statements.length;
    await tenancy.run(tenantId, () =>
      em.transactional(async (tx) => {
        // ar1 is a1's in both datasets; a2 is loaded on its own (with its profile, p2 in t1)
        const article = await tx.findOneOrFail(Article, 'ar1', { populate: ['author'] });
        const author = await tx.findOneOrFail(Author, tenantId === 't1' ? 'a2' : 'a3');
        expect(author.profile?.id).toBe('p2');
        tx.create(Comment, { id: commentId, body: `${tenantId} comment`, hidden: false, article, author });
      }),
    );
    const writes = writesSince(from);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^insert into "comment" /);
    expect(await rowVersions(places[tenantId])).toEqual(before);
    expect(await raw.column(places[tenantId], `select id from {comment} where id = $1`, [commentId])).toEqual([commentId]);
  });
});
