import { lifecycleModule } from '../fixtures/lifecycle-app.js';
import { runCli } from '../support/cli.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { pollUntil } from '../reliability/support/child-process.js';

const MODULE = 'test/fixtures/cli-app.module.ts';
const databases = new TestDatabases();
let hubDb: string;
let app: RunningApp | undefined;

const cli = (...args: string[]) => runCli([...args, '--module', MODULE], { CLI_HUB_DB: hubDb, CLI_ISOLATION: 'schema' });

beforeAll(async () => {
  hubDb = await databases.create('clihub');
});
afterAll(async () => {
  await app?.close();
  await databases.dropAll();
});

describe('mikro-tenancy CLI (child process, app configured with forRootAsync)', () => {
  it('prints help, and explains what to do when it cannot find the app', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: mikro-tenancy <command> [options]');

    const missing = await runCli(['tenant', 'list', '--module', 'src/nowhere.module.ts']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/The module file .*src\/nowhere\.module\.ts does not exist/);

    const wrongExport = await runCli(['tenant', 'list', '--module', `${MODULE}#Nope`]);
    expect(wrongExport.code).toBe(2);
    expect(wrongExport.stderr).toContain("has no export 'Nope' that is a Nest module (its exports: AppModule)");

    const badFlag = await runCli(['migrate', 'up', '--concurrency', 'many']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("--concurrency must be a whole number >= 1, got 'many'");
  });

  it('names a missing database and its context with how to create it, and db create creates it', async () => {
    const missingDb = uniqueName('clinew');
    databases.track(missingDb);
    const env = { CLI_HUB_DB: missingDb, CLI_ISOLATION: 'schema' };
    const before = await runCli(['migrate', 'status', '--context', 'hub', '--module', MODULE], env);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toContain(`The database "${missingDb}" of context 'hub' does not exist. This is a set-up step, not an outage: create it with \`mikro-tenancy db create\``);

    const created = await runCli(['db', 'create', '--module', MODULE], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    // schema mode: the tenant schemas live in the hub database, so it is listed for both contexts
    expect(created.stdout).toContain(`Context 'hub': database "${missingDb}" created`);
    expect(created.stdout).toContain(`Context 'tenant': database "${missingDb}" (the same as context 'hub')`);
    expect(await sql('postgres', 'select 1 from pg_database where datname = $1', [missingDb])).toHaveLength(1);

    // the database exists but the hub is not migrated: the tenant store's table is missing, a set-up step too
    const unmigrated = await runCli(['tenant', 'list', '--module', MODULE], env);
    expect(unmigrated.code).not.toBe(0);
    expect(unmigrated.stderr).toMatch(/The tenant store's table for \w+ does not exist in context 'hub' yet: apply that context's migrations first \(`mikro-tenancy migrate up --context hub`/);

    const again = await runCli(['db', 'create', '--module', MODULE], env);
    expect(again.stdout).toContain(`Context 'hub': database "${missingDb}" already exists`);
  });

  it('migrates the hub, creates a tenant that then serves HTTP, suspends, resumes, and refuses a drop without --yes', async () => {
    const up = await cli('migrate', 'up');
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain("Context 'hub': applied Migration20261121061534_hub");

    const created = await cli('tenant', 'create', 'acme', '--data', '{"plan":"pro"}');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("Tenant 'acme' created; migrations applied: Migration20261121061535_notes");
    expect(await sql(hubDb, 'select id, plan from tenant')).toEqual([{ id: 'acme', plan: 'pro' }]);

    // a long lookup cache: the app sees what the CLI does through the hub's notifications, not through the TTL
    app = await startApp({ imports: [lifecycleModule({ isolation: 'schema', hubDb, cacheTtlMs: 600_000 })] });
    const headers = { 'x-tenant-id': 'acme' };
    expect(await app.request('/notes', { method: 'POST', headers, json: { title: 'from http' } })).toMatchObject({ status: 201 });
    expect((await app.request('/notes', { headers })).body).toMatchObject([{ title: 'from http', marker: 'acme' }]);
    const answers = async (status: number) => pollUntil(async () => (await app?.request('/notes', { headers }))?.status === status, 10_000);

    const suspended = await cli('tenant', 'suspend', 'acme');
    expect([suspended.code, suspended.stdout]).toEqual([0, "Tenant 'acme' suspended\n"]);
    expect(await answers(403)).toBe(true);
    expect(await sql(hubDb, 'select suspended from tenant')).toEqual([{ suspended: true }]);
    const resumed = await cli('tenant', 'resume', 'acme');
    expect(resumed.code).toBe(0);
    expect(await answers(200)).toBe(true);
    const unknown = await cli('tenant', 'suspend', 'nobody');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("Unknown tenant 'nobody'");

    const refused = await cli('tenant', 'drop', 'acme');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`Refusing to drop tenant 'acme' without confirmation: it deletes its schema "tenant_acme"`);
    expect((await app.request('/notes', { headers })).status).toBe(200);

    const status = await cli('migrate', 'status', '--json');
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as { contexts: { context: string; pending: string[] }[]; tenants: { tenantId: string; executed: string[] }[] };
    expect(parsed.contexts).toEqual([{ context: 'hub', executed: ['Migration20261121061534_hub'], pending: [] }]);
    expect(parsed.tenants.map((t) => [t.tenantId, t.executed.length])).toEqual([['acme', 3]]);

    const dropped = await cli('tenant', 'drop', 'acme', '--yes');
    expect(dropped.code).toBe(0);
    expect(await answers(404)).toBe(true);

    // a mistyped id (or a second drop) must not look like success
    const again = await cli('tenant', 'drop', 'acme', '--yes');
    expect(again.code).toBe(1);
    expect(again.stdout).toContain("Nothing dropped: tenant 'acme' is not registered and has no schema or database");
  }, 240_000); // nine CLI runs, each a Node process booting the app: about 5-10 s each on a busy 2-core machine

  it('fans out over every tenant and exits 1 with a JSON report naming the tenant that failed', async () => {
    for (const id of ['c1', 'c2', 'c3', 'c4']) await sql(hubDb, 'insert into tenant (id, suspended) values ($1, false)', [id]);
    await sql(hubDb, 'create schema tenant_c2; create table tenant_c2.note (id int)');
    const run = await cli('migrate', 'up', '--all-tenants', '--concurrency', '2', '--continue-on-error', '--json');
    expect(run.code).toBe(1);
    const report = (JSON.parse(run.stdout) as { tenants: { ok: boolean; counts: Record<string, number>; tenants: { tenantId: string; status: string; error?: string }[] } }).tenants;
    expect(report.ok).toBe(false);
    expect(report.counts).toEqual({ migrated: 3, 'up-to-date': 0, failed: 1, skipped: 0, invalid: 0 });
    expect(report.tenants.find((t) => t.status === 'failed')).toMatchObject({ tenantId: 'c2', error: expect.stringContaining('relation "note" already exists') });

    await sql(hubDb, 'drop table tenant_c2.note');
    const rerun = await cli('migrate', 'up', '--tenant', 'c1,c2');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain("Tenants of 'tenant' (up): 1 migrated, 1 up to date, 0 failed, 0 skipped");
  });
});
