/**
 * The mikro-tenancy CLI on shared tables (issue 15), as a deploy would run it: generate the tenant migration, apply
 * it once before any tenant exists, create tenants, list them, and drop one, which deletes only its rows.
 */
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { runCli } from '../support/cli.js';
import { TestDatabases, sql } from '../support/test-databases.js';

const MODULE = 'test/fixtures/cli-table-app.module.ts';
const databases = new TestDatabases();
const migrations = migrationsFolder('cli_table');
let hubDb: string;

const cli = (...args: string[]) => runCli([...args, '--module', MODULE], { CLI_HUB_DB: hubDb, CLI_TABLE_MIGRATIONS: migrations.path });

beforeAll(async () => {
  hubDb = await databases.create('clitable');
});
afterAll(async () => {
  await databases.dropAll();
  migrations.dispose();
});

it('generates and applies the shared tables once, creates tenants on them, and drops one with only its rows', async () => {
  const created = await cli('migrate', 'create', '--context', 'tenant', '--name', 'notes');
  expect([created.code, created.stdout]).toEqual([0, expect.stringMatching(/Context 'tenant': created Migration\d+_notes/)]);

  const up = await cli('migrate', 'up');
  expect(up.code).toBe(0);
  expect(up.stdout).toContain("Context 'hub': applied Migration20261121061534_hub");
  expect(up.stdout).toMatch(/Shared tables of 'tenant' \(up\): migrated Migration\d+_notes/);
  expect(await sql(hubDb, `select relrowsecurity as rls, relforcerowsecurity as forced from pg_class where relname = 'note'`)).toEqual([{ rls: true, forced: true }]);

  for (const id of ['acme', 'globex']) {
    const made = await cli('tenant', 'create', id);
    expect([made.code, made.stdout]).toEqual([0, `Tenant '${id}' created; migrations applied: none\n`]);
  }
  // a row of each tenant, its tenant_id filled in from the transaction's tenant setting (the column's default)
  for (const id of ['acme', 'globex']) {
    await sql(hubDb, `begin; select set_config('nmt.tenant_id', $1, true); insert into note (title, marker) values ($1, $1); commit`.replace(/\$1/g, `'${id}'`));
  }
  const list = await cli('tenant', 'list', '--json');
  expect(list.code).toBe(0);
  expect((JSON.parse(list.stdout) as { id: string }[]).map((t) => t.id).sort()).toEqual(['acme', 'globex']);

  const dropped = await cli('tenant', 'drop', 'acme', '--yes');
  expect(dropped.code).toBe(0);
  expect(await sql(hubDb, `select tenant_id, title from note order by 1`)).toEqual([{ tenant_id: 'globex', title: 'globex' }]);
  expect(await sql(hubDb, `select tenant_id from nmt_dropped_tenant`)).toEqual([{ tenant_id: 'acme' }]);

  const again = await cli('migrate', 'up');
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/Shared tables of 'tenant' \(up\): up-to-date/);
  expect(again.stdout).toContain('0 migrated, 1 up to date');
}, 240_000);
