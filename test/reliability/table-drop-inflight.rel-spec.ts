/**
 * Shared tables (`isolation: 'table'`, issue 15): dropping a tenant while work of that tenant is still running.
 * `TenantLifecycle.drop` promises (src/lifecycle/tenant-lifecycle.ts) to let the work already running finish, "here
 * and in every other session using its schema or database", up to `drainTimeoutMs`, then to end what is left (its
 * requests get a 503), and only then to delete the tenant's data and remove it from the store. In schema and
 * database mode that is `dropAfterDraining` (src/isolation/drain-sessions.ts): PostgreSQL's sessions are counted and
 * ended, and a write that comes later finds no table. In table mode the tables stay, so a write that comes after the
 * rows were deleted is kept, carrying the dropped tenant's id: no tenant owns it, and a tenant created later with
 * the same id (another customer, maybe) is served it.
 *
 * Two ways that happens, each with the app connected as a role row-level security binds, and judged by PostgreSQL
 * (as the superuser) after the drop: no row may carry the dropped tenant's id, and a tenant created again with that
 * id must see none of the old tenant's rows.
 * 1. One instance, work still running after the drain time: drop with `drainTimeoutMs: 300` while a unit of work of
 *    the tenant waits (for the drop to return, so the order never depends on timing) and then writes.
 * 2. Two instances, within the drain time: instance B has a transaction of the tenant open (a write, an await, a
 *    write) when instance A drops it with the default drain time (10 s). A fixed drop would wait for that
 *    transaction, or end it once the drain time is over; here its second write waits for the drop to return, so
 *    with a fix the drop ends it after 10 s.
 *
 * Both FAIL at the time of writing (src/isolation/table/table-provisioning.ts `drop` ignores `drainUntil` and has no
 * notion of sessions of the tenant): measured, the late unit of work in case 1 is 'written' after the log said
 * "1 unit(s) of work still running after 300 ms; ending them", and in case 2 both writes of the other instance's
 * transaction are committed after the drop; the rows stay with the dropped tenant's id and the tenant created again
 * with that id is served them.
 */
import { EntityManager } from '@mikro-orm/postgresql';
import {
  MikroTenancyModule,
  TenancyService,
  TenantLifecycle,
  getEntityManagerToken,
} from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { type AppRole, createAppRole, dropAppRole, migrateAsOwner, sharedTablesOptions } from './support/shared-tables.js';

describe('shared tables: a drop with work of the tenant still running', () => {
  const databases = new TestDatabases();
  const migrations = migrationsFolder('drop_inflight');
  const role = uniqueName('drop_app').toLowerCase();
  let db: string;
  let a: RunningApp;
  let b: RunningApp;

  const options = (user?: AppRole) =>
    sharedTablesOptions({ db, migrationsPath: migrations.path, entities: [Note], seed: (em, record) => em.create(Note, { title: 'seeded', marker: record.id }) }, user);
  const module = (user?: AppRole) => ({
    imports: [MikroTenancyModule.forRoot(options(user)), MikroTenancyModule.forFeature([Note], 'tenant')],
    controllers: [NotesController],
    providers: [NotesService],
  });
  const rowsOf = async (tenantId: string) => (await sql<{ title: string }>(db, 'select title from note where tenant_id = $1 order by id', [tenantId])).map((r) => r.title);
  /**
   * A unit of work of `tenantId` on `app` that writes a note once `gate` opens (the drop has returned): alone, or
   * (`tx`) as the second write of a transaction whose first write is done before. `started` resolves once it runs
   * (and, with `tx`, its first write is done), so the drop always begins with the unit in flight.
   */
  const lateWrite = (app: RunningApp, tenantId: string, title: string, gate: Promise<unknown>, tx: boolean) => {
    const em = app.app.get<EntityManager>(getEntityManagerToken('tenant'));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const outcome = app.app
      .get(TenancyService)
      .run(tenantId, async () => {
        if (!tx) {
          started();
          await gate;
          em.create(Note, { title, marker: tenantId });
          await em.flush();
          return;
        }
        await em.transactional(async (t) => {
          t.create(Note, { title: `${title}#a`, marker: tenantId });
          await t.flush();
          started();
          await gate;
          t.create(Note, { title: `${title}#b`, marker: tenantId });
          await t.flush();
        });
      })
      .then(
        () => 'written',
        (error: Error) => `${error.constructor.name}: ${error.message}`,
      );
    return { running, outcome };
  };
  /** A promise, and the function that resolves it. */
  const opening = () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    return { gate, open };
  };

  beforeAll(async () => {
    db = await databases.create('dropinflight');
    const user = await createAppRole(db, role);
    await migrateAsOwner(module());
    // two instances of the same app (e.g. two pods), told of each other's lifecycle changes through the store's LISTEN
    a = await startApp(module(user));
    b = await startApp(module(user));
    for (const id of ['d1', 'd2', 'bystander']) await a.app.get(TenantLifecycle).create(id);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await databases.dropAll();
    await dropAppRole(role);
    migrations.dispose();
  });

  it('one instance, work still running after the drain time: its late write must not outlive the drop', async () => {
    const { gate, open } = opening();
    const late = lateWrite(a, 'd1', 'late', gate, false);
    await late.running;
    const dropped = await a.app.get(TenantLifecycle).drop('d1', { confirm: 'd1', drainTimeoutMs: 300 }).finally(open);
    const outcome = await late.outcome;
    const left = await rowsOf('d1');
    await a.app.get(TenantLifecycle).create('d1', {}, { seed: false });
    const reborn = await a.request('/notes', { headers: { 'x-tenant-id': 'd1' } });
    process.stdout.write(`[table drop, one instance] drop ${JSON.stringify(dropped)}; the late unit of work: ${outcome}; rows left with tenant_id 'd1': ${JSON.stringify(left)}; the new 'd1' is served ${JSON.stringify(reborn.body)}\n`);
    expect(dropped.dropped).toBe(true);
    expect(await rowsOf('bystander')).toEqual(['seeded']);
    expect({ left, reborn: reborn.body }).toEqual({ left: [], reborn: [] });
  }, 60_000);

  it("two instances: a transaction of the tenant open on the other instance must not outlive the drop", async () => {
    const { gate, open } = opening();
    const late = lateWrite(b, 'd2', 'other-instance', gate, true);
    await late.running; // its first write is done, its transaction open
    const dropped = await a.app.get(TenantLifecycle).drop('d2', { confirm: 'd2' }).finally(open);
    const outcome = await late.outcome;
    const left = await rowsOf('d2');
    await a.app.get(TenantLifecycle).create('d2', {}, { seed: false });
    const reborn = await a.request('/notes', { headers: { 'x-tenant-id': 'd2' } });
    process.stdout.write(`[table drop, two instances] drop ${JSON.stringify(dropped)}; the other instance's transaction: ${outcome}; rows left with tenant_id 'd2': ${JSON.stringify(left)}; the new 'd2' is served ${JSON.stringify(reborn.body)}\n`);
    expect(dropped.dropped).toBe(true);
    expect(await rowsOf('bystander')).toEqual(['seeded']);
    expect({ left, reborn: reborn.body }).toEqual({ left: [], reborn: [] });
  }, 60_000);
});
