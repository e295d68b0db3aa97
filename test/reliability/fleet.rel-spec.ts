/**
 * Several app instances on one hub (issue 13): instance A (this process) makes every lifecycle change; B, another
 * process, must see it through the hub's LISTEN/NOTIFY, long before its lookup cache (60 s here) would expire; C,
 * a third process that does not listen, must still never answer 500 for a tenant dropped under it.
 *
 * Printed: how long each change took to be seen on B. The test bound is well under the cache TTL (so only a
 * notification can meet it) but above the issue's 1 s target, which the printed figures are compared with.
 */
import { MikroTenancyModule, TenantLifecycle, ContextMigrations, type TenantIsolation } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { TsProcess, pollUntil } from './support/child-process.js';
import { type Outcome, newHttpAgent, send } from './support/soak.js';
import { TxNotesController } from './support/tx-notes.controller.js';

const CACHE_TTL_MS = 60_000;
/** Far below the TTL: a change seen within this came by notification. */
const SEEN_WITHIN_MS = 5_000;

describe.each<TenantIsolation>(['schema', 'database'])('two app instances on one hub (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('fl');
  const agent = newHttpAgent();
  const appNameOf = (instance: string) => `fleet-${isolation}-${instance}`;
  let hubDb: string;
  let a: RunningApp;
  let lifecycle: TenantLifecycle;
  let b: TsProcess;
  let c: TsProcess;
  let bUrl: string;
  let cUrl: string;
  const measured: string[] = [];

  const spawnInstance = async (name: string, changes: 'on' | 'off'): Promise<[TsProcess, string]> => {
    const child = new TsProcess('test/reliability/support/fleet-app.ts', [], {
      FLEET_HUB_DB: hubDb,
      FLEET_ISOLATION: isolation,
      FLEET_DATABASE_PREFIX: databasePrefix,
      FLEET_CACHE_TTL_MS: String(CACHE_TTL_MS),
      FLEET_CHANGES: changes,
      PGAPPNAME: appNameOf(name),
    });
    await child.waitFor(() => /LISTENING (\S+)\n/.test(child.stdout), `instance ${name} to listen`, 60_000);
    return [child, /LISTENING (\S+)\n/.exec(child.stdout)?.[1] as string];
  };
  /** The instance's listening session: its last statement is LISTEN, or the test notification it sends itself after. */
  const listenerSessions = async (instance: string) =>
    (
      await sql<{ pid: number }>(
        'postgres',
        `select pid from pg_stat_activity where application_name = $1 and (query like 'listen %' or query = 'select pg_notify($1, $2)')`,
        [appNameOf(instance)],
      )
    ).map((r) => r.pid);
  const statusOn = async (url: string, tenantId: string): Promise<number> => {
    const outcome = await send(`${url}/notes`, { headers: { 'x-tenant-id': tenantId }, agent });
    return outcome.kind === 'ok' ? outcome.status : -1;
  };
  /** Milliseconds until B answers `status` for the tenant (fails past SEEN_WITHIN_MS). */
  const seenOnB = async (what: string, tenantId: string, status: number): Promise<number> => {
    const started = performance.now();
    const seen = await pollUntil(async () => (await statusOn(bUrl, tenantId)) === status, SEEN_WITHIN_MS, 5);
    const ms = Math.round(performance.now() - started);
    measured.push(`${what}: ${seen ? `${ms} ms` : `not seen within ${SEEN_WITHIN_MS} ms`}`);
    expect({ what, seen }).toEqual({ what, seen: true });
    return ms;
  };

  beforeAll(async () => {
    hubDb = await databases.create('flhub');
    const options = lifecycleOptions({ isolation, hubDb, databasePrefix, cacheTtlMs: CACHE_TTL_MS });
    a = await startApp({
      imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')],
      controllers: [NotesController, TxNotesController],
      providers: [NotesService],
    });
    await a.app.get(ContextMigrations).up('hub');
    lifecycle = a.app.get(TenantLifecycle);
    [b, bUrl] = await spawnInstance('b', 'on');
    [c, cUrl] = await spawnInstance('c', 'off');
    // an instance listens from its first unit of tenant work on (a CLI run or a job runner that serves no tenant never does)
    expect(await listenerSessions('b')).toEqual([]);
    for (const url of [bUrl, cUrl]) expect(await statusOn(url, 'nobody')).toBe(404);
    expect(await pollUntil(async () => (await listenerSessions('b')).length === 1, 10_000)).toBe(true);
    expect(await listenerSessions('c')).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    process.stdout.write(`[fleet ${isolation}] seen on instance B after the change on A:\n  ${measured.join('\n  ')}\n`);
    b?.kill('SIGTERM');
    c?.kill('SIGTERM');
    await Promise.all([b?.exited, c?.exited]);
    await a?.close();
    await databases.dropAll(databasePrefix);
  });

  it('create, suspend and resume on A are seen on B long before its cached lookups expire', async () => {
    expect(await statusOn(bUrl, 'fa')).toBe(404); // B now caches "unknown" for 60 s
    await lifecycle.create('fa');
    await seenOnB('create', 'fa', 200);
    await lifecycle.suspend('fa');
    await seenOnB('suspend', 'fa', 403);
    expect(await statusOn(a.url, 'fa')).toBe(403);
    await lifecycle.resume('fa');
    await seenOnB('resume', 'fa', 200);
  }, 60_000);

  it('drop on A under load on A, B and C: no 500 anywhere, storage gone before the record, a rerun is a no-op', async () => {
    await lifecycle.create('fd');
    for (const url of [a.url, bUrl, cUrl]) expect(await statusOn(url, 'fd')).toBe(200); // each instance has it cached and open
    const outcomes: { instance: string; outcome: Outcome }[] = [];
    let dropping = true;
    const load = async (instance: string, url: string, worker: number) => {
      for (let i = 0; dropping; i++) {
        // a transaction that waits between its writes, a plain write that waits between create and flush, reads
        const headers = { 'x-tenant-id': 'fd' };
        const title = `${instance}-${worker}-${i}`;
        const outcome =
          i % 3 === 0
            ? await send(`${url}/tx-notes?pause=150`, { method: 'POST', headers, json: { title }, agent })
            : i % 3 === 1
              ? await send(`${url}/notes?pause=100`, { method: 'POST', headers, json: { title }, agent })
              : await send(`${url}/notes?pause=50`, { headers, agent });
        outcomes.push({ instance, outcome });
      }
    };
    const loads = ['a', 'b', 'c'].flatMap((instance) => [1, 2, 3].map((worker) => load(instance, { a: a.url, b: bUrl, c: cUrl }[instance] as string, worker)));
    await pollUntil(async () => outcomes.filter((o) => o.outcome.kind === 'ok' && o.outcome.status < 300).length >= 9, 30_000);
    const result = await lifecycle.drop('fd', { confirm: 'fd', drainTimeoutMs: 2_000 });
    await seenOnB('drop', 'fd', 404);
    dropping = false;
    await Promise.all(loads);

    expect(result).toEqual({ tenantId: 'fd', dropped: true, registered: true, storageExisted: true });
    const statuses = new Map<string, number>();
    for (const { instance, outcome } of outcomes) {
      const key = `${instance} ${outcome.kind === 'ok' ? outcome.status : outcome.kind}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }
    process.stdout.write(`[fleet ${isolation}] answers during the drop: ${JSON.stringify(Object.fromEntries(statuses))}\n`);
    // the other instances' error lines, so a failure below shows what the server logged for it
    for (const [name, child] of [['b', b], ['c', c]] as const) {
      const firstError = child.stderr.search(/ERROR/);
      if (firstError >= 0) process.stdout.write(`[fleet ${isolation}] instance ${name} logged:\n${child.stderr.slice(firstError, firstError + 4_000)}\n`);
    }
    const unexpected = outcomes.filter(({ outcome }) => outcome.kind !== 'ok' || ![200, 201, 404, 503].includes(outcome.status));
    expect(unexpected).toEqual([]);
    // A and B were told: they answer 404 now; C was not, but it never answers 500 (503 until its cache expires)
    expect(await statusOn(a.url, 'fd')).toBe(404);
    expect([404, 503]).toContain(await statusOn(cUrl, 'fd'));
    // nothing left behind, and the record went last
    expect(await sql(hubDb, 'select 1 from tenant where id = $1', ['fd'])).toEqual([]);
    if (isolation === 'schema') expect(await sql(hubDb, `select 1 from information_schema.schemata where schema_name = 'tenant_fd'`)).toEqual([]);
    else expect(await sql('postgres', 'select 1 from pg_database where datname = $1', [`${databasePrefix}_fd`])).toEqual([]);
    expect(await lifecycle.drop('fd', { confirm: 'fd' })).toEqual({ tenantId: 'fd', dropped: false, registered: false, storageExisted: false });
  }, 120_000);

  it('drop ends the work still running after the drain time: those requests get a 503, and nothing is left', async () => {
    await lifecycle.create('fe');
    const long = (url: string) => send(`${url}/tx-notes?pause=4000`, { method: 'POST', headers: { 'x-tenant-id': 'fe' }, json: { title: 'long' }, agent });
    const inFlight = [long(a.url), long(bUrl)];
    // both transactions have written their first row and are waiting inside the transaction
    const database = isolation === 'schema' ? hubDb : `${databasePrefix}_fe`;
    const waiting = async () => (await sql<{ n: number }>('postgres', `select count(*)::int as n from pg_stat_activity where state = 'idle in transaction' and datname = $1`, [database]))[0]?.n;
    expect(await pollUntil(async () => (await waiting()) === 2, 10_000)).toBe(true);
    const result = await lifecycle.drop('fe', { confirm: 'fe', drainTimeoutMs: 300 });
    expect(result.dropped).toBe(true);
    const answers = await Promise.all(inFlight);
    expect(answers.map((o) => (o.kind === 'ok' ? o.status : o.kind))).toEqual([503, 503]);
    // their next query met the ended session after the drop: both instances say why (B heard of the drop)
    const why = "Tenant 'fe' was dropped while this request ran, so it was not completed.";
    expect(answers.map((o) => (o.kind === 'ok' ? (o.body as { message: string }).message : ''))).toEqual([why, why]);
    expect(await sql(hubDb, 'select 1 from tenant where id = $1', ['fe'])).toEqual([]);
    if (isolation === 'schema') expect(await sql(hubDb, `select 1 from information_schema.schemata where schema_name = 'tenant_fe'`)).toEqual([]);
    else expect(await sql('postgres', 'select 1 from pg_database where datname = $1', [`${databasePrefix}_fe`])).toEqual([]);
  }, 60_000);

  it('converges after the hub connection of B is cut and restored', async () => {
    await lifecycle.create('fr');
    expect(await statusOn(bUrl, 'fr')).toBe(200);
    const [pid] = await listenerSessions('b');
    await sql('postgres', 'select pg_terminate_backend($1)', [pid]);
    // changed while B is (probably) not listening: B must catch up when it listens again
    await lifecycle.suspend('fr');
    expect(await pollUntil(async () => (await listenerSessions('b')).some((p) => p !== pid), 15_000)).toBe(true);
    await seenOnB('suspend while B reconnects', 'fr', 403);
    await lifecycle.resume('fr');
    await seenOnB('resume after B reconnected', 'fr', 200);
  }, 60_000);
});
