/**
 * Lifecycle faults: the `mikro-tenancy` CLI is SIGKILLed part-way through `tenant create` and through a migration
 * fan-out (`migrate up --all-tenants --concurrency 2`), in both isolation modes. The tenant migrations are the
 * committed set with a 200 ms `pg_sleep` in the second one, so kills land inside migration transactions on purpose.
 *
 * What the library guarantees (src/lifecycle/tenant-lifecycle.ts, migrate-tenant.ts):
 * - a tenant is registered only as the last step of create, so a registered tenant is always complete;
 * - each tenant's migrations run in one transaction (all or nothing); schema mode creates the schema inside it;
 * - database mode creates the database before migrating, so a killed create can leave an unregistered database
 *   (empty, or fully migrated): a rerun of `tenant create <id>` completes it (create is idempotent and resumable);
 * - a killed fan-out leaves each tenant either fully migrated or untouched; a rerun migrates the rest.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TenantIsolation, TenantMigrationReport } from '../../src/index.js';
import { lifecycleModule } from '../fixtures/lifecycle-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { pollUntil, spawnCli } from './support/child-process.js';
import { randomInt } from './support/soak.js';

const MODULE = 'test/reliability/support/slow-cli-app.module.ts';
const TENANT_MIGRATIONS = ['Migration20261121061535_notes', 'Migration20261121061542_marker_index', 'Migration20261121061545_note_created_at'];
const FAN_OUT_TENANTS = Array.from({ length: 40 }, (_, i) => `f${String(i + 1).padStart(2, '0')}`);

interface TenantState {
  registered: boolean;
  provisioned: boolean;
  /** Names in the tenant's migration table, duplicates kept. */
  executed: string[];
}

describe.each<TenantIsolation>(['schema', 'database'])('lifecycle faults: SIGKILL mid-create and mid-fan-out (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('lf');
  let hubDb: string;
  let runs = 0;

  /** A CLI run whose PostgreSQL sessions carry their own application_name, so they can be watched and counted. */
  const cli = (args: string[]) => {
    const appName = `lf-${isolation}-${++runs}`;
    return { appName, process: spawnCli([...args, '--module', MODULE], { CLI_HUB_DB: hubDb, CLI_ISOLATION: isolation, CLI_DATABASE_PREFIX: databasePrefix, PGAPPNAME: appName }) };
  };
  const sessionsOf = async (appName: string, queryLike = '%') =>
    Number((await sql<{ n: string }>('postgres', 'select count(*)::text as n from pg_stat_activity where application_name = $1 and query like $2', [appName, queryLike]))[0]?.n);
  /** After a SIGKILL the server notices the dead client only when its current statement ends (e.g. a pg_sleep). */
  const awaitSessionsGone = async (appName: string) => expect(await pollUntil(async () => (await sessionsOf(appName)) === 0, 10_000, 25)).toBe(true);

  const location = (id: string) => (isolation === 'schema' ? { db: hubDb, schema: `tenant_${id}` } : { db: `${databasePrefix}_${id}`, schema: 'public' });
  async function stateOf(id: string): Promise<TenantState> {
    const registered = (await sql(hubDb, 'select 1 from tenant where id = $1', [id])).length > 0;
    const { db, schema } = location(id);
    const provisioned =
      isolation === 'schema'
        ? (await sql(hubDb, 'select 1 from information_schema.schemata where schema_name = $1', [schema])).length > 0
        : (await sql('postgres', 'select 1 from pg_database where datname = $1', [db])).length > 0;
    if (!provisioned) return { registered, provisioned, executed: [] };
    const [table] = await sql<{ t: string | null }>(db, 'select to_regclass($1)::text as t', [`"${schema}".mikro_orm_migrations`]);
    const executed = table?.t ? (await sql<{ name: string }>(db, `select name from "${schema}".mikro_orm_migrations order by id`)).map((r) => r.name) : [];
    return { registered, provisioned, executed };
  }

  /** What must hold at any moment, however the process died. */
  function expectConsistent(id: string, state: TenantState): void {
    const where = `${id}: ${JSON.stringify(state)}`;
    // each tenant's migrations are one transaction: none or all of them
    expect([[], TENANT_MIGRATIONS]).toContainEqual(state.executed);
    // registration is the last step: a registered tenant is complete
    if (state.registered) expect({ where, provisioned: state.provisioned, executed: state.executed }).toEqual({ where, provisioned: true, executed: TENANT_MIGRATIONS });
    // schema mode creates the schema inside the migration transaction: no empty schema can survive a kill
    if (isolation === 'schema' && state.provisioned) expect({ where, executed: state.executed }).toEqual({ where, executed: TENANT_MIGRATIONS });
  }

  /** No schema or database is left for an id that is not registered. */
  async function leftovers(): Promise<string[]> {
    const registered = new Set((await sql<{ id: string }>(hubDb, 'select id from tenant')).map((r) => r.id));
    const ids =
      isolation === 'schema'
        ? (await sql<{ name: string }>(hubDb, "select schema_name as name from information_schema.schemata where schema_name like 'tenant\\_%'")).map((r) => r.name.slice('tenant_'.length))
        : (await sql<{ name: string }>('postgres', 'select datname as name from pg_database where datname like $1', [`${databasePrefix}\\_%`])).map((r) => r.name.slice(databasePrefix.length + 1));
    return ids.filter((id) => !registered.has(id));
  }

  beforeAll(async () => {
    hubDb = await databases.create('lfhub');
    const { process: hub } = cli(['migrate', 'up', '--context', 'hub']);
    const exit = await hub.exited;
    expect({ code: exit.code, stderr: exit.stderr }).toEqual({ code: 0, stderr: '' });
  });

  afterAll(async () => {
    await databases.dropAll(databasePrefix);
  });

  it('a create killed at any point leaves no half-made tenant; rerunning create completes it and it serves requests', async () => {
    // where each kill lands: just after the CLI's first PostgreSQL session appears (boot, lookup, provisioning),
    // while the tenant's migration transaction sleeps, and just after that sleep (commit, registration, close)
    const killPoints = ['connected', 'mid-migration', 'after-sleep'] as const;
    const created: string[] = [];
    for (const [index, point] of killPoints.entries()) {
      const id = `k${index + 1}`;
      const { appName, process: run } = cli(['tenant', 'create', id]);
      if (point === 'connected') {
        expect(await pollUntil(async () => (await sessionsOf(appName)) > 0, 20_000)).toBe(true);
        await sleep(randomInt(0, 80));
      } else {
        expect(await pollUntil(async () => (await sessionsOf(appName, '%pg_sleep(0.2)%')) > 0, 20_000)).toBe(true);
        if (point === 'after-sleep') {
          expect(await pollUntil(async () => (await sessionsOf(appName, '%pg_sleep(0.2)%')) === 0, 5_000, 2)).toBe(true);
          await sleep(randomInt(0, 20));
        }
      }
      const killedAt = run.elapsedMs;
      run.kill('SIGKILL');
      const exit = await run.exited;
      expect(exit.signal).toBe('SIGKILL');
      await awaitSessionsGone(appName);
      const afterKill = await stateOf(id);
      expectConsistent(id, afterKill);

      const { process: rerun } = cli(['tenant', 'create', id]);
      const rerunExit = await rerun.exited;
      expect({ code: rerunExit.code, stderr: rerunExit.stderr }).toEqual({ code: 0, stderr: '' });
      expect(rerunExit.stdout).toMatch(new RegExp(`Tenant '${id}' (created|already existed); migrations applied: `));
      const afterRerun = await stateOf(id);
      expect(afterRerun).toEqual({ registered: true, provisioned: true, executed: TENANT_MIGRATIONS });
      created.push(id);
      process.stdout.write(
        `[lifecycle ${isolation}] tenant create '${id}' SIGKILLed at ${point} (${killedAt} ms after spawn): ` +
          `registered=${afterKill.registered} provisioned=${afterKill.provisioned} migrations=${afterKill.executed.length}/3; ` +
          `rerun: ${rerunExit.stdout.trim()} (${rerun.elapsedMs} ms)\n`,
      );
    }
    expect(await leftovers()).toEqual([]);

    const app: RunningApp = await startApp({ imports: [lifecycleModule({ isolation, hubDb, databasePrefix })] });
    try {
      for (const id of created) {
        const headers = { 'x-tenant-id': id };
        expect(await app.request('/notes', { method: 'POST', headers, json: { title: `after kill ${id}` } })).toMatchObject({ status: 201, body: { marker: id } });
        expect(await app.request('/notes', { headers })).toMatchObject({ status: 200, body: [{ title: `after kill ${id}`, marker: id }] });
      }
    } finally {
      await app.close();
    }
  }, 120_000);

  it('a fan-out killed part-way leaves every tenant fully migrated or untouched; a rerun migrates the rest exactly once', async () => {
    for (const id of FAN_OUT_TENANTS) {
      await sql(hubDb, 'insert into tenant (id, suspended) values ($1, false)', [id]);
      // database mode: migrations never create databases (only create does), so an installation has them already
      if (isolation === 'database') await sql('postgres', `create database "${databasePrefix}_${id}"`);
    }
    const progressLines = (text: string) => text.split('\n').filter((line) => /^ {2}f\d\d: (migrated|up-to-date|failed)/.test(line));
    const killAfter = randomInt(6, 26);
    const { appName, process: run } = cli(['migrate', 'up', '--all-tenants', '--concurrency', '2']);
    await run.waitFor(() => progressLines(run.stderr).length >= killAfter, `${killAfter} progress lines`, 60_000);
    // then kill while a tenant's migration transaction is sleeping: the kill lands mid-migration, not between tenants
    let inFlight = 0;
    expect(await pollUntil(async () => (inFlight = await sessionsOf(appName, '%pg_sleep(0.2)%')) > 0, 10_000, 2)).toBe(true);
    const killedAt = run.elapsedMs;
    run.kill('SIGKILL');
    const exit = await run.exited;
    expect(exit.signal).toBe('SIGKILL');
    const reported = progressLines(exit.stderr);
    expect(reported.every((line) => /: migrated /.test(line))).toBe(true);
    await awaitSessionsGone(appName);

    const afterKill = new Map<string, TenantState>();
    for (const id of FAN_OUT_TENANTS) {
      const state = await stateOf(id);
      expectConsistent(id, { ...state, registered: false }); // registered up front: only the migration invariants apply
      afterKill.set(id, state);
    }
    const complete = FAN_OUT_TENANTS.filter((id) => afterKill.get(id)?.executed.length === TENANT_MIGRATIONS.length);
    // every tenant reported migrated is complete, and the kill really landed part-way
    for (const line of reported) expect(complete).toContain(line.trim().split(':')[0]);
    expect(complete.length).toBeGreaterThanOrEqual(reported.length);
    expect(complete.length).toBeLessThan(FAN_OUT_TENANTS.length);

    const { process: rerun } = cli(['migrate', 'up', '--all-tenants', '--concurrency', '2', '--json']);
    const rerunExit = await rerun.exited;
    expect({ code: rerunExit.code, stderr: rerunExit.stderr }).toEqual({ code: 0, stderr: '' });
    const report = (JSON.parse(rerunExit.stdout) as { tenants: TenantMigrationReport }).tenants;
    expect(report.ok).toBe(true);
    // --all-tenants also covers the tenants of the create test (complete, so up to date)
    const others = report.tenants.filter((result) => !FAN_OUT_TENANTS.includes(result.tenantId));
    expect(others.every((result) => result.status === 'up-to-date')).toBe(true);
    expect(report.counts).toEqual({ migrated: FAN_OUT_TENANTS.length - complete.length, 'up-to-date': complete.length + others.length, failed: 0, skipped: 0, invalid: 0 });
    for (const result of report.tenants.filter((r) => FAN_OUT_TENANTS.includes(r.tenantId))) {
      expect({ id: result.tenantId, migrations: result.migrations }).toEqual({ id: result.tenantId, migrations: complete.includes(result.tenantId) ? [] : TENANT_MIGRATIONS });
    }
    for (const id of FAN_OUT_TENANTS) {
      // every migration listed exactly once, in order
      expect({ id, ...(await stateOf(id)) }).toEqual({ id, registered: true, provisioned: true, executed: TENANT_MIGRATIONS });
    }
    expect(await leftovers()).toEqual([]);
    process.stdout.write(
      `[lifecycle ${isolation}] migrate up --all-tenants --concurrency 2 over ${FAN_OUT_TENANTS.length} tenants SIGKILLed after progress line ${killAfter} ` +
        `(${killedAt} ms after spawn, ${inFlight} migration(s) sleeping in a transaction at that moment): ` +
        `${complete.length} complete, ${FAN_OUT_TENANTS.length - complete.length} untouched, 0 partial; ` +
        `rerun: ${report.counts.migrated} migrated, ${report.counts['up-to-date']} up to date, ok=${report.ok} (${rerun.elapsedMs} ms)\n`,
    );
  }, 120_000);
});
