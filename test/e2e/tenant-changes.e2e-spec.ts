/**
 * Tenant changes reach the other app instances through the hub's LISTEN/NOTIFY (two apps in this process, each
 * with its own module and pools; the several-process version with drops under load is
 * test/reliability/fleet.rel-spec.ts). The lookup cache is 10 minutes long, so only a notification explains B
 * seeing A's change.
 */
import { ContextMigrations, MikroTenancyModule, TenantLifecycle, TenantNotFoundError, UnknownContextError } from '../../src/index.js';
import { TenancyRuntime } from '../../src/runtime/tenancy-runtime.js';
import { lifecycleModule, lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { pollUntil } from '../reliability/support/child-process.js';

const databases = new TestDatabases();
const databasePrefix = uniqueName('tc');
const CACHE_TTL_MS = 600_000;
let hubDb: string;
let a: RunningApp;
let b: RunningApp;

const statusOn = async (app: RunningApp, tenantId: string) => (await app.request('/notes', { headers: { 'x-tenant-id': tenantId } })).status;
/** B answers `status` within 5 s (far below the 10 min cache: it was told). */
const seenOnB = (tenantId: string, status: number) => pollUntil(async () => (await statusOn(b, tenantId)) === status, 5_000);
const changesOf = (app: RunningApp) => app.app.get(TenancyRuntime).tenants?.changesStatus();

beforeAll(async () => {
  hubDb = await databases.create('tchub');
  const setup = { isolation: 'database' as const, hubDb, databasePrefix, cacheTtlMs: CACHE_TTL_MS };
  a = await startApp({ imports: [lifecycleModule(setup)] });
  b = await startApp({ imports: [lifecycleModule(setup)] });
  await a.app.get(ContextMigrations).up('hub');
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await databases.dropAll(databasePrefix);
});

describe('tenant changes shared between app instances (LISTEN/NOTIFY on the hub)', () => {
  it('starts listening with the first tenant request, and shows it in the health details', async () => {
    expect(changesOf(b)).toMatchObject({ channel: 'nestjs_mikro_tenancy', context: 'hub', listening: false, received: 0 });
    expect(await statusOn(b, 'c1')).toBe(404); // cached as unknown for 10 minutes
    expect(await pollUntil(async () => changesOf(b)?.verified === true, 10_000)).toBe(true); // got its own test notification
    expect(changesOf(b)).toMatchObject({ listening: true, received: 0 }); // probes are not changes
  });

  it('create, suspend, resume and drop on A are seen on B; B closes its ORM of the dropped tenant', async () => {
    await a.app.get(TenantLifecycle).create('c1');
    expect(await seenOnB('c1', 200)).toBe(true);
    await a.app.get(TenantLifecycle).suspend('c1');
    expect(await seenOnB('c1', 403)).toBe(true);
    await a.app.get(TenantLifecycle).resume('c1');
    expect(await seenOnB('c1', 200)).toBe(true);
    const pool = () => (b.app.get(TenancyRuntime).tenants?.isolation.health().details as { open: number }).open;
    expect(pool()).toBe(1);

    expect(await a.app.get(TenantLifecycle).drop('c1', { confirm: 'c1' })).toMatchObject({ dropped: true });
    expect(await seenOnB('c1', 404)).toBe(true);
    expect(pool()).toBe(0);
    // up to 5 changes heard (created, suspended, resumed, dropping, dropped); one sent while B re-listened is made up
    // for by forgetting every cached lookup, so the statuses above are what counts
    expect(changesOf(b)).toMatchObject({ listening: true, verified: true });
    expect(changesOf(b)?.received).toBeGreaterThan(0);
  });

  it('ignores notifications it cannot read or that are not about its tenants, and keeps serving', async () => {
    await a.app.get(TenantLifecycle).create('c2');
    expect(await statusOn(b, 'c2')).toBe(200);
    const before = changesOf(b)?.received;
    const notify = (payload: string) => sql(hubDb, `select pg_notify('nestjs_mikro_tenancy', $1)`, [payload]);
    await notify('not json');
    await notify(JSON.stringify({ v: 1, context: 'other', origin: 'x', kind: 'dropping', tenantId: 'c2' }));
    await notify(JSON.stringify({ v: 1, context: 'tenant', origin: 'x', kind: 'explode', tenantId: 'c2' }));
    await notify(JSON.stringify({ v: 1, context: 'tenant', origin: 'x', kind: 'dropping', tenantId: 'Robert"); drop table tenant;--' }));
    // a well-formed change after them is still heard, so the ones before were read (and ignored)
    await notify(JSON.stringify({ v: 1, context: 'tenant', origin: 'x', kind: 'updated', tenantId: 'c2' }));
    expect(await pollUntil(async () => changesOf(b)?.received === (before as number) + 2, 5_000)).toBe(true);
    expect(await statusOn(b, 'c2')).toBe(200);
    expect(await sql(hubDb, 'select id from tenant order by id')).toEqual([{ id: 'c2' }]);
  });

  it('suspending an unknown tenant is a 404, and dropping one with nothing to drop says so', async () => {
    await expect(a.app.get(TenantLifecycle).suspend('nobody')).rejects.toThrow(TenantNotFoundError);
    expect(await a.app.get(TenantLifecycle).drop('nobody', { confirm: 'nobody' })).toEqual({ tenantId: 'nobody', dropped: false, registered: false, storageExisted: false });
  });

  it('refuses a changes context that does not exist, at boot', async () => {
    const options = lifecycleOptions({ isolation: 'database', hubDb, databasePrefix });
    const tenancy = { ...options.tenancy!, changes: { context: 'nowhere' } };
    await expect(startApp({ imports: [MikroTenancyModule.forRoot({ ...options, tenancy })] })).rejects.toThrow(UnknownContextError);
  });
});
