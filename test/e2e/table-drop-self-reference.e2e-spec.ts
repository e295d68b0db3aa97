/**
 * Shared tables: dropping a tenant whose rows reference each other in one table (a self-referencing many-to-one
 * whose foreign key neither cascades nor sets null). The drop deletes a tenant's rows in batches of 5 000
 * (src/isolation/table/table-provisioning.ts); a batch that takes a parent row but not its child is refused
 * (23503, the child still references it), so the drop deletes that table's rows in one statement instead, where
 * PostgreSQL checks the foreign key once every row of the tenant is gone. Here one tenant's rows form a chain of
 * 5 100 (each row the parent of the next, stored in that order), so the first batch always leaves a child of one
 * of its rows behind. Judged by PostgreSQL as the superuser: the tenant's rows are all gone, another tenant's rows
 * and the sentinel rows (no registered tenant owns them) are exactly as before, row versions included.
 */
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { MikroTenancyModule, TenantLifecycle } from '../../src/index.js';
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { type AppRole, createAppRole, dropAppRole, migrateAsOwner, sharedTablesOptions } from '../reliability/support/shared-tables.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';

/** A tree of rows: `no action` on delete, so a parent cannot go while a child still references it. */
@Entity({ tableName: 'tree_node' })
class TreeNode {
  @PrimaryKey()
  id!: number;

  @Property()
  label!: string;

  @ManyToOne(() => TreeNode, { nullable: true, deleteRule: 'no action' })
  parent?: TreeNode;
}

/** More than the drop's batch of 5 000 rows. */
const CHAIN = 5_100;

describe('shared tables: dropping a tenant whose rows reference each other', () => {
  const databases = new TestDatabases();
  const migrations = migrationsFolder('self_ref');
  const role = uniqueName('self_ref_app').toLowerCase();
  let db: string;
  let app: RunningApp;

  const module = (user?: AppRole) => ({ imports: [MikroTenancyModule.forRoot(sharedTablesOptions({ db, migrationsPath: migrations.path, entities: [TreeNode] }, user))] });
  /** `count` rows of `tenantId` from id `first` on, each the parent of the next, inserted (so stored) parents first. */
  const chain = (tenantId: string, first: number, count: number) =>
    sql(
      db,
      `insert into tree_node (id, label, parent_id, tenant_id) select g, $2 || '-' || g, case when g = $1 then null else g - 1 end, $2 from generate_series($1::int, $1::int + $3::int - 1) g`,
      [first, tenantId, count],
    );
  const rowsOf = (tenantIds: string[]) =>
    sql<{ v: string; id: number; label: string; parent_id: number | null; tenant_id: string }>(
      db,
      'select xmin::text as v, id, label, parent_id, tenant_id from tree_node where tenant_id = any($1) order by id',
      [tenantIds],
    );

  beforeAll(async () => {
    db = await databases.create('tabledropselfref');
    const user = await createAppRole(db, role);
    await migrateAsOwner(module());
    app = await startApp(module(user));
    for (const id of ['chained', 'other']) await app.app.get(TenantLifecycle).create(id);
    await chain('chained', 1, CHAIN);
    await chain('other', 100_001, 3);
    // sentinels: a tenant that is not registered, and the empty string (what a reset setting reads as)
    await chain('ghost', 200_001, 2);
    await chain('', 300_001, 2);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await databases.dropAll();
    await dropAppRole(role);
    migrations.dispose();
  });

  it('deletes every row of the tenant and no other row', async () => {
    const before = await rowsOf(['other', 'ghost', '']);
    expect(before.map((r) => `${r.tenant_id}:${r.id}<-${r.parent_id}`)).toEqual([
      'other:100001<-null',
      'other:100002<-100001',
      'other:100003<-100002',
      'ghost:200001<-null',
      'ghost:200002<-200001',
      ':300001<-null',
      ':300002<-300001',
    ]);
    expect((await rowsOf(['chained'])).length).toBe(CHAIN);

    const dropped = await app.app.get(TenantLifecycle).drop('chained', { confirm: 'chained' });

    expect(dropped).toEqual({ tenantId: 'chained', dropped: true, registered: true, storageExisted: true });
    expect(await rowsOf(['chained'])).toEqual([]);
    expect(await rowsOf(['other', 'ghost', ''])).toEqual(before);
    expect(await app.app.get(TenantLifecycle).list()).toEqual([expect.objectContaining({ id: 'other' })]);
  });
});
