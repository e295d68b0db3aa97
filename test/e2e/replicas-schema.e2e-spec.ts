/**
 * Read replicas in schema mode: the tenant ORM's replica connections keep the fail-closed search_path of the primary's
 * (an unqualified table fails there too, never reading `public`), and a tenant's reads on the replica stay in its schema.
 * The "replica" is a TCP proxy in front of the embedded server (see replicas.e2e-spec.ts); its own file, since MikroORM
 * decorates the tenant entity classes per process and replicas.e2e-spec.ts runs a database-mode app on them.
 */
import type { MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { type EntityManager, defineConfig } from '@mikro-orm/postgresql';
import { fileURLToPath } from 'node:url';
import { ContextMigrations, MikroTenancyModule, TenancyService, TenantLifecycle, TenantStores, getEntityManagerToken } from '../../src/index.js';
import { replicaRouterOf } from '../../src/replicas/replica-driver.js';
import { TenancyRuntime } from '../../src/runtime/tenancy-runtime.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { Tenant } from '../fixtures/entities/tenant.entity.js';
import { QueryLog } from '../reliability/support/replica-app.js';
import { type ReplicaProxy, startReplicaProxy } from '../reliability/support/replica-proxy.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, connectionOptions, sql } from '../support/test-databases.js';

const databases = new TestDatabases();
const queries = new QueryLog();
const migrationsOf = (context: string) => fileURLToPath(new URL(`../fixtures/migrations/${context}`, import.meta.url));
let proxy: ReplicaProxy;
let app: RunningApp;
let hubDb: string;

beforeAll(async () => {
  hubDb = await databases.create('repschema');
  proxy = await startReplicaProxy(connectionOptions(hubDb));
  const common = { metadataProvider: ReflectMetadataProvider, ...connectionOptions(hubDb) } as const;
  app = await startApp({
    imports: [
      MikroTenancyModule.forRoot({
        contexts: { hub: defineConfig({ ...common, entities: [Tenant], migrations: { path: migrationsOf('hub'), snapshot: false } }) },
        tenancy: {
          isolation: 'schema',
          store: TenantStores.table(Tenant, { context: 'hub' }),
          config: defineConfig({
            ...common,
            entities: [Note],
            replicas: [{ name: 'schema-replica', host: '127.0.0.1', port: proxy.port }],
            loggerFactory: queries.loggerFactory(),
            migrations: { path: migrationsOf('tenant'), snapshotName: '.snapshot-tenant' },
          }),
          cacheTtlMs: 0,
          changes: false,
        },
        replicaLag: { maxMs: 2_000, checkEveryMs: 100 },
      }),
      MikroTenancyModule.forFeature([Note], 'tenant'),
    ],
  });
  await app.app.get(ContextMigrations).up('hub');
  for (const id of ['s1', 's2']) await app.app.get(TenantLifecycle).create(id);
  // a look-alike table in public, which an unqualified read would find if the search_path were not the fail-closed one
  await sql(hubDb, "create table public.note (id serial primary key, title text, marker text); insert into public.note (title, marker) values ('sentinel', 'public')");
}, 60_000);

afterAll(async () => {
  // app.close() took over 60 s (once) and over 120 s (CI of 2026-12-02) here in full parallel runs, never alone: not
  // understood yet. After 30 s the proxy's connections are cut (as a replica going away would), which lets a close
  // waiting on one of them finish; the warning says how long each step took, so the next occurrence can be traced.
  const started = Date.now();
  const closing = app?.close();
  const slow = await Promise.race([closing?.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 30_000).unref())]);
  if (slow) await proxy?.close();
  await closing;
  const closed = Date.now();
  await proxy?.close();
  await databases.dropAll();
  if (Date.now() - started > 5_000) console.warn(`afterAll: app.close() ${closed - started} ms${slow ? ' (finished only after the proxy was cut)' : ''}, proxy and databases ${Date.now() - closed} ms`);
}, 120_000);

it("keeps a tenant's replica reads in its schema, with the fail-closed search_path on the replica connections too", async () => {
  const tenantOrm = (app.app.get(TenancyRuntime).tenants?.isolation.health().ping as MikroORM);
  const router = replicaRouterOf(tenantOrm.em.getDriver());
  expect(await router?.check()).toEqual([expect.objectContaining({ name: 'schema-replica', state: 'up' })]);
  const em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
  const tenancy = app.app.get(TenancyService);
  await tenancy.run('s2', () => em.persist(em.create(Note, { title: 'of s2', marker: 's2' })).flush());

  await tenancy.run('s1', async () => {
    queries.clear();
    expect(await em.find(Note, {})).toEqual([]); // not s2's row, not public's sentinel
    const replica = em.getConnection('read');
    expect(await replica.execute('show search_path')).toEqual([{ search_path: '' }]);
    await expect(replica.execute('select * from note')).rejects.toThrow(/relation "note" does not exist/);
    // (the replica checks are logged too: only these three statements are looked at)
    const ran = queries.entries.filter((entry) => /note|search_path/.test(entry.sql));
    expect(ran).toEqual([
      { sql: 'select "n0".* from "tenant_s1"."note" as "n0"', type: 'read' },
      { sql: 'show search_path', type: 'read' },
      { sql: 'select * from note', type: 'read' },
    ]);
  });
  await tenancy.run('s2', async () => {
    expect((await em.find(Note, {})).map((note) => note.marker)).toEqual(['s2']);
  });
});
