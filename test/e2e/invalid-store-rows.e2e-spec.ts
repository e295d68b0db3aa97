/**
 * Rows of the tenant store that cannot be a tenant (issue 13): an id that breaks the id rules, or a valid id whose
 * derived schema or database name is too long, reserved or unsafe. A default fan-out (every tenant, no
 * continueOnError) must migrate every other tenant and report those rows `invalid`, never `failed` nor make the
 * others `skipped`; `status` and `TenancyService.forEachTenant` must pass them over too.
 */
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ContextMigrations, MikroTenancyModule, type MikroTenancyModuleOptions, TenancyService, TenantLifecycle, type TenantIsolation } from '../../src/index.js';
import type { Tenant } from '../fixtures/entities/tenant.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { runCli } from '../support/cli.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';

const TENANT_MIGRATIONS = ['Migration20261121061535_notes', 'Migration20261121061542_marker_index', 'Migration20261121061545_note_created_at'];
const GOOD = ['g1', 'g2', 'g3', 'g4', 'g5', 'g6'];
const BAD_ID = 'Bad Id';
const ESCAPED_BAD_ID = '"Bad\\u0020Id" (an invalid tenant id, shown escaped)';
/** A valid id (63 characters at most) whose schema or database name, prefix included, is longer than 63 bytes. */
const LONG_ID = `along${'x'.repeat(55)}`;

/** Runs `fn` keeping the error and warning lines of every Nest Logger instead of printing them. */
async function withLogs<R>(fn: () => Promise<R>): Promise<{ result: R; lines: string[] }> {
  const lines: string[] = [];
  const keep = (message: unknown) => void lines.push(String(message));
  const spies = [jest.spyOn(Logger.prototype, 'error').mockImplementation(keep), jest.spyOn(Logger.prototype, 'warn').mockImplementation(keep)];
  try {
    return { result: await fn(), lines };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

describe.each<TenantIsolation>(['schema', 'database'])('tenant store rows that cannot be a tenant (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('inv');
  let hubDb: string;
  let app: RunningApp;
  let lifecycle: TenantLifecycle;

  /** A row's `plan` may name its schema or database (`name=...`): how a real app derives names from a column. */
  const named = (tenant: Tenant) => /^name=(.*)$/.exec(tenant.plan ?? '')?.[1];
  const options = (): MikroTenancyModuleOptions => {
    const base = lifecycleOptions({ isolation, hubDb, databasePrefix });
    return {
      ...base,
      tenancy: {
        ...base.tenancy!,
        schemaName: (t) => named(t as Tenant) ?? `tenant_${t.id}`,
        database: (t) => ({ dbName: named(t as Tenant) ?? `${databasePrefix}_${t.id}` }),
      },
    };
  };
  /** Bad rows, and the rule each one's report must name. */
  const BAD_ROWS: { id: string; plan?: string; reported: string; rule: RegExp }[] = [
    { id: BAD_ID, reported: ESCAPED_BAD_ID, rule: /^Invalid tenant id: it has characters that are not allowed/ },
    { id: LONG_ID, reported: LONG_ID, rule: new RegExp(`^Invalid tenant id: the ${isolation} name for tenant '${LONG_ID}' would be \\d+ bytes long; PostgreSQL allows 63`) },
    // a name that holds something else: `public` (schema mode), PostgreSQL's template1 (database mode)
    { id: 'asys', plan: `name=${isolation === 'schema' ? 'public' : 'template1'}`, reported: 'asys', rule: new RegExp(`^Invalid tenant id: the ${isolation} name derived for tenant 'asys' is reserved`) },
    { id: 'aunsafe', plan: 'name=has space', reported: 'aunsafe', rule: new RegExp(`^Invalid tenant id: the ${isolation} name derived for tenant 'aunsafe' is not a safe identifier`) },
  ];

  const executedIn = async (id: string) => {
    const [db, schema] = isolation === 'schema' ? [hubDb, `tenant_${id}`] : [`${databasePrefix}_${id}`, 'public'];
    const [table] = await sql<{ t: string | null }>(db, 'select to_regclass($1)::text as t', [`"${schema}".mikro_orm_migrations`]);
    if (!table?.t) return [];
    return (await sql<{ name: string }>(db, `select name from "${schema}".mikro_orm_migrations order by id`)).map((r) => r.name);
  };
  /** Schemas (in the hub database) and databases (on the server) the bad rows could have made. */
  const madeForBadRows = async () => [
    ...(await sql<{ n: string }>(hubDb, "select nspname as n from pg_namespace where nspname like 'tenant\\_%' and nspname not in (select 'tenant_' || unnest($1::text[]))", [GOOD])).map((r) => `schema ${r.n}`),
    ...(await sql<{ n: string }>('postgres', 'select datname as n from pg_database where starts_with(datname, $1) and datname <> all($2::text[])', [databasePrefix, GOOD.map((id) => `${databasePrefix}_${id}`)])).map((r) => `database ${r.n}`),
  ];

  beforeAll(async () => {
    hubDb = await databases.create('invhub');
    app = await startApp({ imports: [MikroTenancyModule.forRoot(options())] });
    expect(await app.app.get(ContextMigrations).up('hub')).toEqual(['Migration20261121061534_hub']);
    lifecycle = app.app.get(TenantLifecycle);
    // the store lists by id: the bad rows come first, so a run that stopped at one would skip every good tenant
    for (const row of BAD_ROWS) await sql(hubDb, 'insert into tenant (id, suspended, plan) values ($1, false, $2)', [row.id, row.plan ?? null]);
    for (const id of GOOD) {
      await sql(hubDb, 'insert into tenant (id, suspended) values ($1, false)', [id]);
      if (isolation === 'database') await sql('postgres', `create database "${databasePrefix}_${id}"`);
    }
  });

  afterAll(async () => {
    await app?.close();
    await databases.dropAll(databasePrefix);
  });

  it('a default fan-out migrates every tenant and reports each bad row as invalid, with its rule, without raw ids in logs', async () => {
    const { result: report, lines } = await withLogs(() => lifecycle.migrate());
    expect({ ok: report.ok, counts: report.counts }).toEqual({ ok: true, counts: { migrated: GOOD.length, 'up-to-date': 0, failed: 0, skipped: 0, invalid: BAD_ROWS.length } });
    for (const id of GOOD) expect({ id, executed: await executedIn(id) }).toEqual({ id, executed: TENANT_MIGRATIONS });
    for (const row of BAD_ROWS) {
      const result = report.tenants.find((t) => t.tenantId === row.reported);
      expect(result).toMatchObject({ status: 'invalid', migrations: [], error: expect.stringMatching(row.rule) });
      expect(result?.error).toContain('correct the row in the tenant store');
    }
    expect(await madeForBadRows()).toEqual([]);

    // each bad row is logged as an error (the bad id escaped), then the summary says every tenant succeeded
    expect(lines.filter((line) => line.includes(BAD_ID))).toEqual([]);
    expect(lines.filter((line) => line.startsWith("The tenant store of 'tenant' lists "))).toHaveLength(BAD_ROWS.length);
    expect(lines).toContainEqual(expect.stringContaining(`lists ${ESCAPED_BAD_ID}: Invalid tenant id: it has characters that are not allowed`));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^up on ${GOOD.length + BAD_ROWS.length} tenant\\(s\\) of 'tenant': ${GOOD.length} migrated, .*, ${BAD_ROWS.length} invalid store row\\(s\\) .*Every tenant succeeded`)));
  });

  it('naming a tenant whose derived name is invalid reports it invalid too; the others named run', async () => {
    const report = await lifecycle.migrate({ tenants: ['aunsafe', 'g1'] });
    expect(report.tenants.map((t) => `${t.tenantId}:${t.status}`)).toEqual(['aunsafe:invalid', 'g1:up-to-date']);
    expect(report.ok).toBe(true);
  });

  it('status lists the bad rows as invalid (nothing read for them) and reads every tenant', async () => {
    const statuses = await lifecycle.status();
    expect(statuses.filter((s) => s.invalid).map((s) => s.tenantId)).toEqual(BAD_ROWS.map((row) => row.reported));
    for (const row of BAD_ROWS) {
      expect(statuses.find((s) => s.tenantId === row.reported)).toEqual({ tenantId: row.reported, executed: [], pending: [], invalid: true, error: expect.stringMatching(row.rule) });
    }
    expect(statuses.filter((s) => !s.invalid)).toEqual(GOOD.map((tenantId) => ({ tenantId, executed: TENANT_MIGRATIONS, pending: [] })));
  });

  it('forEachTenant visits every tenant and logs each bad row as an error instead of stopping at it', async () => {
    const visited: string[] = [];
    const { lines } = await withLogs(() => app.app.get(TenancyService).forEachTenant((tenant) => void visited.push(tenant.id)));
    expect(visited.sort()).toEqual(GOOD);
    expect(lines.filter((line) => line.startsWith('forEachTenant: the tenant store lists '))).toHaveLength(BAD_ROWS.length);
    expect(lines.filter((line) => line.includes(BAD_ID))).toEqual([]);
  });

  if (isolation === 'schema') {
    it('the CLI prints each invalid row (escaped) under the counts, and the JSON report carries them', async () => {
      // the CLI fixture derives names the default way (it ignores `name=`): only the bad id and the long id are
      // invalid there, and the two rows with a bad `name=` are plain tenants it migrates
      const cli = (...args: string[]) => runCli([...args, '--module', 'test/fixtures/cli-app.module.ts'], { CLI_HUB_DB: hubDb, CLI_ISOLATION: 'schema' });
      const human = await cli('migrate', 'up', '--all-tenants');
      expect(human.code).toBe(1); // every valid tenant migrated, but a row needs fixing: scripts must notice
      expect(human.stdout).toContain(`Tenants of 'tenant' (up): 2 migrated, 6 up to date, 0 failed, 0 skipped, 2 invalid store row(s) in`);
      expect(human.stdout).toContain(`  INVALID ${ESCAPED_BAD_ID}: Invalid tenant id: it has characters that are not allowed`);
      expect(human.stdout).toContain(`  INVALID ${LONG_ID}: Invalid tenant id: the schema name for tenant '${LONG_ID}' would be`);
      expect(`${human.stdout}${human.stderr}`).not.toContain(BAD_ID);

      const json = await cli('migrate', 'up', '--all-tenants', '--json');
      const report = (JSON.parse(json.stdout) as { tenants: { ok: boolean; counts: Record<string, number> } }).tenants;
      expect(report).toMatchObject({ ok: true, counts: { 'up-to-date': 8, invalid: 2, failed: 0 } });

      const status = await cli('migrate', 'status', '--all-tenants');
      expect(status.code).toBe(1); // each invalid row carries an error
      expect(status.stdout).toContain(`INVALID store row: Invalid tenant id: the schema name for tenant '${LONG_ID}' would be`);
    });
  }
});
