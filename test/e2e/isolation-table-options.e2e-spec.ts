/**
 * Shared tables with the options a user may change (issue 15): row-level security off (the ORM alone scopes every
 * query), global uniques kept as declared (warned at boot), and a role that bypasses row-level security (warned
 * instead of refused). Each on a database of its own, through the real module.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ContextMigrations, MikroTenancyModule, TenancyService, TenantColumnMismatchError, TenantLifecycle, TenantStores, getEntityManagerToken } from '../../src/index.js';
import { CapturingLogger, type StartedApp, hubContextConfig, startBlogApp, tenantTemplateConfig } from '../fixtures/relational/app.js';
import { Article, Author, Tag, TenantRow } from '../fixtures/relational/entities.js';
import { migrationsFolder, modelDdl } from '../fixtures/relational/setup.js';
import { TestDatabases, sql } from '../support/test-databases.js';

const databases = new TestDatabases();
const folders: { dispose(): void }[] = [];
const apps: StartedApp[] = [];
const logger = new CapturingLogger();

afterAll(async () => {
  for (const app of apps) await app.close();
  await databases.dropAll();
  for (const folder of folders) folder.dispose();
});

/** A database with the hub table, an app on it in table mode, the tenant migration generated and applied. */
async function sharedTablesApp(sharedTables: Record<string, unknown>): Promise<{ app: StartedApp; db: string; em: EntityManager; tenancy: TenancyService }> {
  const db = await databases.create('table_opts');
  await sql(db, (await modelDdl()).hub);
  const migrations = migrationsFolder('table-opts');
  folders.push(migrations);
  const app = await startBlogApp(
    {
      imports: [
        MikroTenancyModule.forRoot({
          contexts: { default: hubContextConfig(db) },
          tenancy: { isolation: 'table', config: tenantTemplateConfig(db, migrations.path), store: TenantStores.table(TenantRow), cacheTtlMs: 0, sharedTables },
        }),
      ],
      controllers: [],
    },
    logger,
  );
  apps.push(app);
  await app.app.get(ContextMigrations).create('tenant');
  for (const t of ['t1', 't2']) await app.app.get(TenantLifecycle).create(t, {}, { seed: false });
  return { app, db, em: app.app.get<EntityManager>(getEntityManagerToken('tenant')), tenancy: app.app.get(TenancyService) };
}

describe('shared tables with row-level security off: the ORM alone scopes', () => {
  let env: Awaited<ReturnType<typeof sharedTablesApp>>;
  beforeAll(async () => {
    logger.lines.length = 0;
    // the test's role is a superuser: with row-level security off, nothing needs a bound role
    env = await sharedTablesApp({ rowLevelSecurity: false });
    for (const t of ['t1', 't2']) {
      await env.tenancy.run(t, async () => {
        const author = env.em.create(Author, { id: `${t}-a1`, username: 'alice', email: 'alice@example.com', displayName: t, address: { city: 'Paris', country: t } });
        const article = env.em.create(Article, { id: `${t}-ar1`, title: `${t} one`, published: true, author });
        article.tags.add(env.em.create(Tag, { id: `${t}-tg1`, name: 'typescript', description: t }));
        await env.em.flush();
      });
    }
  }, 60_000);

  it('generates no policies, and warns nothing about the role', async () => {
    expect(await sql(env.db, `select count(*)::int as n from pg_policies`)).toEqual([{ n: 0 }]);
    expect(logger.lines.filter((l) => l.includes('row-level security'))).toEqual([]);
  });

  it('find with populate, relation conditions, count, nativeUpdate and nativeDelete see only the tenant', async () => {
    for (const t of ['t1', 't2']) {
      const other = t === 't1' ? 't2' : 't1';
      const seen = await env.tenancy.run(t, async () => ({
        articles: (await env.em.find(Article, {}, { populate: ['author', 'tags'] })).map((a) => `${a.id}:${a.author.$.id}:${a.tags.getItems().map((g) => g.id).join()}`),
        byAlice: (await env.em.find(Article, { author: { username: 'alice' } })).map((a) => a.id),
        tags: await env.em.count(Tag),
        renamed: await env.em.nativeUpdate(Tag, { name: 'typescript' }, { description: `${t} renamed` }),
      }));
      expect(seen).toEqual({ articles: [`${t}-ar1:${t}-a1:${t}-tg1`], byAlice: [`${t}-ar1`], tags: 1, renamed: 1 });
      expect(await sql(env.db, `select description from tag where tenant_id = $1`, [other])).not.toEqual([{ description: `${t} renamed` }]);
    }
  });

  it("a flush writing another tenant's value is still refused by the ORM", async () => {
    const refused = await env.tenancy.run('t1', async () => {
      env.em.create(Tag, { id: 't1-x', name: 'x', description: 'x', tenantId: 't2' } as never);
      return env.em.flush().catch((error: unknown) => error);
    });
    expect(refused).toBeInstanceOf(TenantColumnMismatchError);
    expect(await sql(env.db, `select count(*)::int as n from tag where id = 't1-x'`)).toEqual([{ n: 0 }]);
  });
});

describe('shared tables with global uniques and a role that bypasses row-level security, both only warned', () => {
  it('boots, warning about each unique that leaves the tenant column out and about the role', async () => {
    logger.lines.length = 0;
    const env = await sharedTablesApp({ uniques: 'as-declared', bypassingRole: 'warn' });
    const warnings = logger.lines.filter((l) => l.startsWith('warn'));
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/a unique constraint of Author on \(username\) leaves out the tenant column/),
        expect.stringMatching(/a unique constraint of Author on \(email\) leaves out the tenant column/),
        expect.stringMatching(/a unique constraint of Tag on \(name\) leaves out the tenant column/),
        expect.stringMatching(/is a superuser.*row-level security/),
      ]),
    );
    // global: the second tenant cannot have its own "typescript" tag
    await env.tenancy.run('t1', async () => {
      env.em.create(Tag, { id: 't1-tg1', name: 'typescript', description: 't1' });
      await env.em.flush();
    });
    const second = await env.tenancy.run('t2', async () => {
      env.em.create(Tag, { id: 't2-tg1', name: 'typescript', description: 't2' });
      return env.em.flush().then(() => 'written', (error: Error) => error.name);
    });
    expect(second).toBe('UniqueConstraintViolationException');
  });
});
