import { ContextMigrations, MikroTenancyModule, TenantDropNotConfirmedError, TenantLifecycle, type TenantLifecycleEvents, type TenantIsolation } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';

const TENANT_MIGRATIONS = ['Migration20261121061535_notes', 'Migration20261121061542_marker_index', 'Migration20261121061545_note_created_at'];
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(2, '0')}`);

describe.each<TenantIsolation>(['schema', 'database'])('tenant lifecycle and migrations (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('lc');
  let hubDb: string;
  let app: RunningApp;
  let lifecycle: TenantLifecycle;

  /** Where a tenant's tables live, as SQL sees them: its database and schema. */
  const location = (id: string) => (isolation === 'schema' ? { db: hubDb, schema: `tenant_${id}` } : { db: `${databasePrefix}_${id}`, schema: 'public' });
  const tablesOf = async (id: string) => {
    const { db, schema } = location(id);
    const rows = await sql<{ table_name: string }>(db, 'select table_name from information_schema.tables where table_schema = $1 order by 1', [schema]);
    return rows.map((r) => r.table_name);
  };
  const executedIn = async (id: string) => {
    const { db, schema } = location(id);
    const [table] = await sql<{ t: string | null }>(db, 'select to_regclass($1)::text as t', [`"${schema}".mikro_orm_migrations`]);
    if (!table?.t) return [];
    const rows = await sql<{ name: string }>(db, `select name from "${schema}".mikro_orm_migrations order by id`);
    return rows.map((r) => r.name);
  };
  const databaseExists = async (id: string) => (await sql('postgres', 'select 1 from pg_database where datname = $1', [`${databasePrefix}_${id}`])).length > 0;
  const schemaExists = async (id: string) => (await sql(hubDb, 'select 1 from information_schema.schemata where schema_name = $1', [`tenant_${id}`])).length > 0;
  const provisioned = (id: string) => (isolation === 'schema' ? schemaExists(id) : databaseExists(id));

  /** Registers tenants in the store without provisioning them, as an existing installation would have them. */
  async function register(tenantIds: string[]): Promise<void> {
    for (const id of tenantIds) {
      await sql(hubDb, 'insert into tenant (id, suspended) values ($1, false)', [id]);
      // database mode: migrations never create databases (only `create` does), so the databases exist already
      if (isolation === 'database') await sql('postgres', `create database "${databasePrefix}_${id}"`);
    }
  }

  /** A table that makes the first tenant migration fail for this tenant. */
  async function conflict(id: string): Promise<void> {
    const { db, schema } = location(id);
    await sql(db, `create schema if not exists "${schema}"; create table "${schema}".note (id int)`);
  }

  async function removeConflict(id: string): Promise<void> {
    const { db, schema } = location(id);
    await sql(db, `drop table "${schema}".note`);
  }

  beforeAll(async () => {
    hubDb = await databases.create('lchub');
    app = await startApp({
      imports: [MikroTenancyModule.forRoot(lifecycleOptions({ isolation, hubDb, databasePrefix })), MikroTenancyModule.forFeature([Note], 'tenant')],
      controllers: [NotesController],
      providers: [NotesService],
    });
    expect(await app.app.get(ContextMigrations).up('hub')).toEqual(['Migration20261121061534_hub']);
    lifecycle = app.app.get(TenantLifecycle);
  });

  afterAll(async () => {
    await app?.close();
    await databases.dropAll(databasePrefix);
  });

  it('creates a tenant at runtime (provisioned, migrated, seeded, registered) and serves it over HTTP', async () => {
    const events: string[] = [];
    const off = lifecycle.on('created', (e: TenantLifecycleEvents['created']) => void events.push(`created ${e.tenant.id} ${e.migrations.length}`));
    lifecycle.on('migrated', (e) => void events.push(`migrated ${e.tenantId} ${e.migrations.length}`));
    const seed = async (em: import('@mikro-orm/core').EntityManager) => void em.create(Note, { title: 'welcome', marker: 'acme' });

    const result = await lifecycle.create('acme', { plan: 'pro' } as never, { seed });
    expect(result).toMatchObject({ created: true, migrations: TENANT_MIGRATIONS, tenant: { id: 'acme', plan: 'pro' } });
    expect(events).toEqual(['migrated acme 3', 'created acme 3']);
    expect(await tablesOf('acme')).toEqual(['mikro_orm_migrations', 'note']);
    expect(await executedIn('acme')).toEqual(TENANT_MIGRATIONS);

    const headers = { 'x-tenant-id': 'acme' };
    expect((await app.request('/notes', { headers })).body).toMatchObject([{ title: 'welcome', marker: 'acme' }]);
    expect((await app.request('/notes', { method: 'POST', headers, json: { title: 'second' } })).status).toBe(201);
    expect((await app.request('/notes', { headers })).body).toHaveLength(2);

    // idempotent: a second create only applies what is pending (nothing) and seeds nothing
    const again = await lifecycle.create('acme');
    expect(again).toMatchObject({ created: false, migrations: [] });
    expect((await app.request('/notes', { headers })).body).toHaveLength(2);
    off();
  });

  it('refuses to drop without confirmation, then drops the schema or database and the store entry', async () => {
    await lifecycle.create('doomed');
    const headers = { 'x-tenant-id': 'doomed' };
    expect((await app.request('/notes', { method: 'POST', headers, json: { title: 'x' } })).status).toBe(201);

    const where = isolation === 'schema' ? 'schema "tenant_doomed"' : `database "${databasePrefix}_doomed"`;
    await expect(lifecycle.drop('doomed')).rejects.toThrow(new TenantDropNotConfirmedError('doomed', where).message);
    await expect(lifecycle.drop('doomed', { confirm: 'other' })).rejects.toBeInstanceOf(TenantDropNotConfirmedError);
    expect(await provisioned('doomed')).toBe(true);
    expect((await app.request('/notes', { headers })).body).toHaveLength(1);

    const dropped: string[] = [];
    lifecycle.on('dropped', (e) => void dropped.push(e.tenantId));
    await lifecycle.drop('doomed', { confirm: 'doomed' });
    expect(dropped).toEqual(['doomed']);
    expect(await provisioned('doomed')).toBe(false);
    expect((await sql(hubDb, 'select 1 from tenant where id = $1', ['doomed'])).length).toBe(0);
    expect(await app.request('/notes', { headers })).toMatchObject({ status: 404 });
    // rerunning a finished drop is harmless
    await lifecycle.drop('doomed', { confirm: 'doomed' });
  });

  it('a failing seed leaves no schema or database behind and does not register the tenant; a retry succeeds', async () => {
    const failing = () => Promise.reject(new Error('seed exploded'));
    await expect(lifecycle.create('halfmade', {}, { seed: failing })).rejects.toThrow(/Creating tenant 'halfmade' failed: seed exploded\. Its (schema|database) .* made by this call, was removed; it was not registered/);
    expect(await provisioned('halfmade')).toBe(false);
    expect((await sql(hubDb, 'select 1 from tenant where id = $1', ['halfmade'])).length).toBe(0);
    expect((await lifecycle.create('halfmade')).migrations).toEqual(TENANT_MIGRATIONS);
  });

  it('migrates 52 tenants with concurrency 4; a second run applies nothing', async () => {
    const tenants = ids('bulk', 52);
    await register(tenants);
    const progress: number[] = [];
    const report = await lifecycle.migrate({ tenants, concurrency: 4, onResult: (_r, done) => void progress.push(done) });
    expect(report).toMatchObject({ ok: true, counts: { migrated: 52, 'up-to-date': 0, failed: 0, skipped: 0 } });
    expect(progress).toEqual(Array.from({ length: 52 }, (_, i) => i + 1));
    for (const id of tenants) {
      expect(await tablesOf(id)).toEqual(['mikro_orm_migrations', 'note']);
      expect(await executedIn(id)).toEqual(TENANT_MIGRATIONS);
    }
    if (isolation === 'schema') {
      // nothing was written to the default schema of the shared database
      expect(await sql(hubDb, "select table_name from information_schema.tables where table_schema = 'public' order by 1")).toEqual([
        { table_name: 'mikro_orm_migrations' },
        { table_name: 'tenant' },
      ]);
    }
    const second = await lifecycle.migrate({ tenants, concurrency: 4 });
    expect(second.counts).toEqual({ migrated: 0, 'up-to-date': 52, failed: 0, skipped: 0, invalid: 0 });
    const statuses = await lifecycle.status(tenants.slice(0, 3));
    expect(statuses).toEqual(tenants.slice(0, 3).map((tenantId) => ({ tenantId, executed: TENANT_MIGRATIONS, pending: [] })));
  });

  it('with continueOnError, one failing tenant is reported and the others succeed; a rerun after the fix completes', async () => {
    const tenants = ids('cont', 6);
    await register(tenants);
    await conflict('cont03');
    const failures: string[] = [];
    lifecycle.on('migrationFailed', (e) => void failures.push(e.tenantId));

    const report = await lifecycle.migrate({ tenants, concurrency: 2, continueOnError: true });
    expect(report.ok).toBe(false);
    expect(report.counts).toEqual({ migrated: 5, 'up-to-date': 0, failed: 1, skipped: 0, invalid: 0 });
    const failed = report.tenants.find((t) => t.status === 'failed');
    expect(failed?.tenantId).toBe('cont03');
    expect(failed?.error).toMatch(/^migration 'Migration20261121061535_notes' failed for tenant 'cont03' \((schema|database) "[^"]+"\), nothing of it was applied: .*relation "note" already exists/);
    expect(failures).toContain('cont03');
    expect(await executedIn('cont03')).toEqual([]); // rolled back as a whole

    await removeConflict('cont03');
    const rerun = await lifecycle.migrate({ tenants, concurrency: 2 });
    expect(rerun.counts).toEqual({ migrated: 1, 'up-to-date': 5, failed: 0, skipped: 0, invalid: 0 });
    expect(await executedIn('cont03')).toEqual(TENANT_MIGRATIONS);
  });

  it('without continueOnError, the run stops at the first failure; after the fix a rerun does only what is pending', async () => {
    const tenants = ids('stop', 5);
    await register(tenants);
    await conflict('stop02');
    const report = await lifecycle.migrate({ tenants, concurrency: 1 });
    expect(report.tenants.map((t) => t.status)).toEqual(['migrated', 'failed', 'skipped', 'skipped', 'skipped']);
    expect(report.tenants[2]?.error).toBe("not attempted: the run stopped after tenant 'stop02' failed (use continueOnError to go on)");
    expect(await provisioned('stop03')).toBe(isolation === 'database'); // never touched (databases pre-exist)
    expect(await executedIn('stop03')).toEqual([]);

    await removeConflict('stop02');
    const rerun = await lifecycle.migrate({ tenants, concurrency: 2 });
    expect(rerun.tenants.map((t) => t.status)).toEqual(['up-to-date', 'migrated', 'migrated', 'migrated', 'migrated']);
  });

  it('two runners started at once never migrate a tenant twice', async () => {
    const tenants = ids('race', 12);
    await register(tenants);
    const other = await startApp({ imports: [MikroTenancyModule.forRoot(lifecycleOptions({ isolation, hubDb, databasePrefix }))] });
    try {
      const [a, b] = await Promise.all([
        lifecycle.migrate({ tenants, concurrency: 3 }),
        other.app.get(TenantLifecycle).migrate({ tenants: [...tenants].reverse(), concurrency: 3 }),
      ]);
      expect(a.ok && b.ok).toBe(true);
      for (const id of tenants) {
        const applied = [...(a.tenants.find((t) => t.tenantId === id)?.migrations ?? []), ...(b.tenants.find((t) => t.tenantId === id)?.migrations ?? [])];
        expect(applied).toEqual(TENANT_MIGRATIONS); // all three, once, by one of the runners
        expect(await executedIn(id)).toEqual(TENANT_MIGRATIONS);
      }
    } finally {
      await other.close();
    }
  });

  it('rolls back the last migration of chosen tenants, and reads status without creating anything', async () => {
    await register(['back1', 'never']);
    await lifecycle.migrate({ tenants: ['back1'] });
    const report = await lifecycle.rollback({ tenants: ['back1'] });
    expect(report.tenants).toMatchObject([{ tenantId: 'back1', status: 'migrated', migrations: [TENANT_MIGRATIONS[2]] }]);
    const [back1, never, unknown] = await lifecycle.status(['back1', 'never', 'nobody']);
    expect(unknown).toEqual({ tenantId: 'nobody', executed: [], pending: [], error: "unknown tenant 'nobody'" });
    expect(back1).toEqual({ tenantId: 'back1', executed: TENANT_MIGRATIONS.slice(0, 2), pending: [TENANT_MIGRATIONS[2]] });
    expect(never?.error).toBeDefined();
    expect(never?.executed).toEqual([]);
    if (isolation === 'schema') expect(await schemaExists('never')).toBe(false);
    else expect(await tablesOf('never')).toEqual([]);
  });

  it('rejects invalid ids before touching anything', async () => {
    await expect(lifecycle.create('Bad Id')).rejects.toThrow(/Invalid tenant id/);
    await expect(lifecycle.drop('../x', { confirm: '../x' })).rejects.toThrow(/Invalid tenant id/);
    await expect(lifecycle.migrate({ tenants: ['ok', 'x;drop'] })).rejects.toThrow(/Invalid tenant id/);
  });
});
