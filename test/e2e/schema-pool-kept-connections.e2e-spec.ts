/**
 * Schema isolation keeps its pool's idle connections open (their catalog caches hold every schema they served):
 * ten minutes unless the user's config sets `pool.idleTimeoutMillis` or `driverOptions.idleTimeoutMillis`. Checked
 * on a real PostgreSQL backend outliving node-postgres' own 10-s idle timeout, and on a user's shorter timeout
 * closing it. pg's `maxLifetimeSeconds`, the documented bound on a backend's catalog caches (docs/performance.md), reaches
 * the tenant pool through `driverOptions` next to the search_path the library adds there.
 */
import { MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { MikroTenancyModule, TenancyService, TenantStores, getEntityManagerToken } from '../../src/index.js';
import { SCHEMA_POOL_IDLE_TIMEOUT_MS } from '../../src/isolation/schema/kept-connections.js';
import { hubConfig, tenantTemplate } from '../fixtures/configs.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { Tenant } from '../fixtures/entities/tenant.entity.js';
import { provisionSchemas } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql } from '../support/test-databases.js';

/** node-postgres closes a pooled connection idle this long when nobody says otherwise. */
const PG_DEFAULT_IDLE_MS = 10_000;
const databases = new TestDatabases();
let hubDb: string;
const apps: RunningApp[] = [];

beforeAll(async () => {
  hubDb = await databases.create('kept_conns');
  const hub = await MikroORM.init(hubConfig(hubDb));
  await hub.schema.create();
  await hub.em.fork().insertMany(Tenant, [{ id: 'kept', suspended: false }]);
  await hub.close();
  const tenants = await MikroORM.init(tenantTemplate(hubDb));
  await provisionSchemas(tenants, ['tenant_kept']);
  await tenants.close();
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await databases.dropAll();
});

async function schemaApp(config: object): Promise<RunningApp> {
  const app = await startApp({
    imports: [
      MikroTenancyModule.forRoot({
        contexts: { default: hubConfig(hubDb) },
        tenancy: { isolation: 'schema', config: { ...tenantTemplate(hubDb), ...config }, store: TenantStores.table(Tenant) },
      }),
      MikroTenancyModule.forFeature([Note], 'tenant'),
    ],
  });
  apps.push(app);
  return app;
}

/** The tenant pool's idle timeout, and the backend that served one query of tenant 'kept'. */
async function tenantPool(app: RunningApp): Promise<{ idleTimeoutMillis: unknown; pid: number }> {
  const em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
  return app.app.get(TenancyService).run('kept', async () => {
    const [{ pid }] = await em.execute<{ pid: number }[]>('select pg_backend_pid() as pid');
    const pool = (await em.getConnection().getNativeClient()) as unknown as { options: { idleTimeoutMillis?: unknown } };
    return { idleTimeoutMillis: pool.options.idleTimeoutMillis, pid: Number(pid) };
  });
}

const isOpen = async (pid: number): Promise<boolean> => (await sql(hubDb, 'select 1 from pg_stat_activity where pid = $1', [pid])).length === 1;

describe("schema isolation's pool keeps idle connections", () => {
  it('keeps an idle connection past node-postgres’ 10-s timeout when the config sets none', async () => {
    const app = await schemaApp({});
    const { idleTimeoutMillis, pid } = await tenantPool(app);
    expect(idleTimeoutMillis).toBe(SCHEMA_POOL_IDLE_TIMEOUT_MS);
    expect(await isOpen(pid)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, PG_DEFAULT_IDLE_MS + 2_000));
    expect(await isOpen(pid)).toBe(true);
    // and the same backend serves the tenant's next query (its caches are the point)
    expect((await tenantPool(app)).pid).toBe(pid);
  });

  it.each([
    ['pool.idleTimeoutMillis', (ms: number) => ({ pool: { max: 4, idleTimeoutMillis: ms } })],
    ['driverOptions.idleTimeoutMillis', (ms: number) => ({ driverOptions: { idleTimeoutMillis: ms } })],
  ])("leaves the user's %s alone: a 300-ms timeout closes the connection", async (_where, config) => {
    const app = await schemaApp(config(300));
    const { idleTimeoutMillis, pid } = await tenantPool(app);
    expect(idleTimeoutMillis).toBe(300);
    const deadline = Date.now() + 15_000;
    while ((await isOpen(pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await isOpen(pid)).toBe(false);
  });
});

describe("schema isolation's pool and pg's maxLifetimeSeconds", () => {
  it('replaces a connection after its lifetime, and the next one keeps the fail-closed search_path', async () => {
    const app = await schemaApp({ driverOptions: { maxLifetimeSeconds: 1 } });
    const { pid } = await tenantPool(app);
    const deadline = Date.now() + 15_000;
    while ((await isOpen(pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await isOpen(pid)).toBe(false);
    const em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
    const next = await app.app.get(TenancyService).run('kept', async () =>
      em.execute<{ pid: number; search_path: string }[]>("select pg_backend_pid() as pid, current_setting('search_path') as search_path"),
    );
    expect(Number(next[0]?.pid)).not.toBe(pid);
    expect(next[0]?.search_path).not.toMatch(/public|tenant_kept/);
  });
});
