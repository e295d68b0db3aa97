/**
 * SQL comment tags (issue 16): with TenantSqlTagsModule imported, the tenant context's queries run in a tenant's unit
 * of work end with `/*tenant='<id>'*\/`, as PostgreSQL itself shows them in pg_stat_activity; without it, nothing is
 * added. Checked on a real server, for a request and for TenancyService.run.
 */
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/core';
import { ContextMigrations, MikroTenancyModule, getMikroORMToken, TenancyService, TenantLifecycle, TenantSqlTagsModule } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';

const databases = new TestDatabases();
const apps: INestApplication[] = [];
let hubDb: string;

async function boot(tagged: boolean, isolation: 'schema' | 'database' = 'schema', databasePrefix?: string): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [
      MikroTenancyModule.forRoot(lifecycleOptions({ isolation, hubDb, databasePrefix, changes: false })),
      MikroTenancyModule.forFeature([Note], 'tenant'),
      ...(tagged ? [TenantSqlTagsModule] : []),
    ],
    controllers: [NotesController],
    providers: [NotesService],
  })
  class SqlTagsAppModule {}
  const app = await NestFactory.create(SqlTagsAppModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  apps.push(app);
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

/** The text PostgreSQL shows for the running query that contains `marker`, read while it runs. */
async function runningQuery(marker: string, run: () => Promise<unknown>, db = hubDb): Promise<string> {
  const running = run();
  const found: string[] = [];
  for (let i = 0; i < 400 && found.length === 0; i++) {
    const rows = await sql<{ query: string }>(db, `select query from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()`, [`%${marker}%`]);
    found.push(...rows.map((row) => row.query));
    if (!found.length) await sleep(10);
  }
  await running;
  if (found.length !== 1) throw new Error(`expected one running query with ${marker}, saw ${JSON.stringify(found)}`);
  return found[0] as string;
}

let tagged: { app: INestApplication; url: string };
let plain: { app: INestApplication; url: string };

beforeAll(async () => {
  hubDb = await databases.create('sqltag');
  tagged = await boot(true);
  await tagged.app.get(ContextMigrations).up('hub');
  for (const id of ['st1', 'st2']) await tagged.app.get(TenantLifecycle).create(id);
  plain = await boot(false);
}, 120_000);

afterAll(async () => {
  for (const app of apps) await app.close();
  await databases.dropAll();
});

const slow = (base: string, tenant: string, ms: number) => fetch(`${base}/slow?ms=${ms}`, { headers: { 'x-tenant-id': tenant } }).then((r) => r.status);

describe('TenantSqlTagsModule: the tenant in the SQL PostgreSQL sees', () => {
  it("ends a request's tenant query with its tag, as pg_stat_activity shows it", async () => {
    const query = await runningQuery('pg_sleep', async () => expect(await slow(tagged.url, 'st2', 1500)).toBe(200));
    expect(query).toMatch(/^select pg_sleep\(.*\) \/\*tenant='st2'\*\/$/);
  });

  it('tags the queries of TenancyService.run, and of each tenant its own', async () => {
    const tenancy = tagged.app.get(TenancyService);
    const marker = 'tag_probe_one';
    const query = await runningQuery(marker, () => tenancy.run('st1', ({ em }) => em.getConnection().execute(`select pg_sleep(1.5) as ${marker}`)));
    expect(query).toBe(`select pg_sleep(1.5) as ${marker} /*tenant='st1'*/`);
  });

  it('leaves static contexts alone, and every query of an app that does not import the module', async () => {
    const query = await runningQuery('pg_sleep', async () => expect(await slow(plain.url, 'st1', 1500)).toBe(200));
    expect(query).not.toContain('/*');
    const tenancy = tagged.app.get(TenancyService);
    const hub = tagged.app.get<MikroORM>(getMikroORMToken('hub'));
    const marker = 'tag_probe_two';
    // a static context's query inside a tenant's unit of work: only the tenant context is tagged
    const central = await runningQuery(marker, () => tenancy.run('st1', () => hub.em.getConnection().execute(`select pg_sleep(1.5) as ${marker}`)));
    expect(central).not.toContain('/*');
  });
});

describe('TenantSqlTagsModule in database mode', () => {
  it("tags the queries each tenant's own ORM sends to its database", async () => {
    const databasePrefix = uniqueName('stdb');
    const { app, url } = await boot(true, 'database', databasePrefix);
    await app.get(TenantLifecycle).create('sd1');
    databases.track(`${databasePrefix}_sd1`);
    const query = await runningQuery('pg_sleep', async () => expect(await slow(url, 'sd1', 1500)).toBe(200), `${databasePrefix}_sd1`);
    expect(query).toMatch(/^select pg_sleep\(.*\) \/\*tenant='sd1'\*\/$/);
  });
});
