/**
 * Shared tables (`isolation: 'table'`, issue 15), the app connected as a role row-level security binds: every way
 * the tenant EntityManager can write a row with another tenant's id, or move one of its rows to another tenant, is
 * refused by PostgreSQL, and the library answers such a refusal with a 403 (src/http/database-unavailable.ts maps
 * MikroORM's RowLevelSecurityViolationException to TenantRowRefusedError), never a 500. PostgreSQL (read as the
 * superuser) says what was written: nothing, for each of them.
 *
 * The QueryBuilder paths FAIL at the time of writing: `em.createQueryBuilder(E).insert(...).execute()` and
 * `.update({ tenantId: other }).execute()` surface the refusal as the pg driver's own DatabaseError ("new row
 * violates row-level security policy", SQLSTATE 42501), not converted to RowLevelSecurityViolationException, so
 * the filter does not catch it: the request answers 500 and Nest logs the driver error (the write is refused all
 * the same: no row is written). Measured: insert, insertMany, upsert, nativeUpdate and raw SQL 403; both
 * QueryBuilder paths 500.
 */
import { EntityManager } from '@mikro-orm/postgresql';
import { Controller, Param, Post } from '@nestjs/common';
import { InjectEntityManager, MikroTenancyModule, RequireTenant, TenantLifecycle } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { type AppRole, createAppRole, dropAppRole, migrateAsOwner, sharedTablesOptions } from './support/shared-tables.js';
const VECTORS = ['insert', 'insertMany', 'upsert', 'qb-insert', 'qb-update-move', 'native-update-move', 'raw-insert'] as const;

@RequireTenant()
@Controller('foreign')
class ForeignWritesController {
  constructor(@InjectEntityManager('tenant') private readonly em: EntityManager) {}

  /** As the current tenant, writes a note carrying tenant `other`'s id (or moves the tenant's notes to it) by `vector`. */
  @Post(':vector/:other')
  async write(@Param('vector') vector: (typeof VECTORS)[number], @Param('other') other: string) {
    const row = { title: `via ${vector}`, marker: 'x', tenantId: other } as never;
    switch (vector) {
      case 'insert':
        await this.em.insert(Note, row);
        break;
      case 'insertMany':
        await this.em.insertMany(Note, [row]);
        break;
      case 'upsert':
        await this.em.upsert(Note, { id: 999_999, ...(row as object) } as never);
        break;
      case 'qb-insert':
        await this.em.createQueryBuilder(Note).insert(row).execute();
        break;
      case 'qb-update-move':
        await this.em.createQueryBuilder(Note).update({ tenantId: other } as never).execute();
        break;
      case 'native-update-move':
        await this.em.nativeUpdate(Note, {}, { tenantId: other } as never);
        break;
      case 'raw-insert':
        await this.em.execute('insert into note (title, marker, tenant_id) values (?, ?, ?)', [`via ${vector}`, 'x', other]);
        break;
    }
    return { written: true };
  }
}

describe('shared tables: writes with another tenant id, refused by row-level security', () => {
  const databases = new TestDatabases();
  const migrations = migrationsFolder('rls_refusals');
  const role = uniqueName('rls_app').toLowerCase();
  let db: string;
  let app: RunningApp;

  const options = (user?: AppRole) =>
    sharedTablesOptions({ db, migrationsPath: migrations.path, entities: [Note], seed: (em, record) => em.create(Note, { title: 'seeded', marker: record.id }) }, user);
  const module = (user?: AppRole) => ({
    imports: [MikroTenancyModule.forRoot(options(user)), MikroTenancyModule.forFeature([Note], 'tenant')],
    controllers: [ForeignWritesController],
  });
  const rows = () => sql(db, 'select xmin::text as v, id, title, marker, tenant_id from note order by id');

  beforeAll(async () => {
    db = await databases.create('rlsrefusals');
    const user = await createAppRole(db, role);
    await migrateAsOwner(module());
    app = await startApp(module(user));
    for (const id of ['t1', 't2']) await app.app.get(TenantLifecycle).create(id);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await databases.dropAll();
    await dropAppRole(role);
    migrations.dispose();
  });

  it('every write path answers 403 and writes nothing', async () => {
    const before = await rows();
    expect(before.map((r) => `${r.title}:${r.tenant_id}`)).toEqual(['seeded:t1', 'seeded:t2']);
    const answers: Record<string, number> = {};
    for (const vector of VECTORS) answers[vector] = (await app.request(`/foreign/${vector}/t2`, { method: 'POST', headers: { 'x-tenant-id': 't1' } })).status;
    process.stdout.write(`[table rls refusals] status per write path: ${JSON.stringify(answers)}\n`);
    expect(await rows()).toEqual(before);
    expect(answers).toEqual(Object.fromEntries(VECTORS.map((v) => [v, 403])));
  });
});
