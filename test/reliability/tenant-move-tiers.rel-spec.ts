/**
 * Issue 17, moves between isolation tiers at the app level (schema isolation with tenancy.databaseTier, servers x
 * and y, both real clusters with wal_level = logical; the hub on the test server). Two app instances (this process
 * and a child, both listening for the hub's changes, lookups cached for 10 min so only a notification can tell them)
 * serve 'grows' (50k notes), 'nextdoor' (x, shared tier) and 'there' (y, shared tier) over HTTP while 'grows' moves:
 * from the shared database of x to a database of its own on x, back, then from the shared tier of x to the database
 * tier of y. Checked by SQL: every acknowledged write is in the tenant's new database (and nothing else), the
 * neighbours hold exactly their acknowledged writes and never saw a non-2xx, the old copy and every replication
 * object are gone, a tier database left behind is dropped, the record names the new place, both instances serve
 * the tenant from there. Then a rerun of the finished move (API and CLI) changes nothing; a move stopped right after
 * the switch is finished by a rerun (its source database dropped); the CLI moving it across servers and tiers,
 * SIGKILLed at several steps (after the switch too), completes on reruns.
 *
 * Printed: the pause (result.pausedMs) and the longest a writer of 'grows' went without an acknowledgement; only a
 * hang is asserted (15 s).
 */
import { MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { setTimeout as sleep } from 'node:timers/promises';
import { TenantLifecycle } from '../../src/index.js';
import { PlacedTenant } from '../fixtures/entities/placed-tenant.entity.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { type TestPgServer, type TestPgServers, startPgServers } from '../support/pg-servers.js';
import { connectionOptions, uniqueName } from '../support/test-databases.js';
import { TsProcess, pollUntil, spawnCli } from './support/child-process.js';
import { type MoveAppClient, MoveAppLoad } from './support/move-app-load.js';
import { type MoveTiersSetup, moveTiersMetadata, tierDatabaseOf } from './support/move-tiers-options.js';
import { MoveTiersPlaces, type Place, type ServerState } from './support/move-tiers-places.js';
import { newHttpAgent, send } from './support/soak.js';

const SEED = 50_000;
const HANG_MS = 15_000;
const NEIGHBOURS = { nextdoor: 'x', there: 'y' } as const;

describe('moving a tenant between isolation tiers under two app instances (schema isolation, HTTP)', () => {
  const hubDb = uniqueName('mthub');
  const tenantsDb = uniqueName('mtt');
  const agent = newHttpAgent();
  const measured: string[] = [];
  /** Every title acknowledged so far per tenant, over all phases: each tenant's table must hold exactly these. */
  const acked = new Map<string, Set<string>>(['grows', ...Object.keys(NEIGHBOURS)].map((t) => [t, new Set()]));
  let cluster: TestPgServers;
  let setup: MoveTiersSetup;
  let places: MoveTiersPlaces;
  let one: RunningApp;
  let two: TsProcess;
  let twoUrl: string;
  let lifecycle: TenantLifecycle<PlacedTenant>;

  /** Every load started, stopped after each test (a failed one included, so its writers do not run on). */
  const loads: MoveAppLoad[] = [];
  const startLoad = (clients: MoveAppClient[], label: string, httpAgent: typeof agent) => {
    const load = new MoveAppLoad(clients, label, httpAgent);
    loads.push(load);
    return load;
  };
  const post = (url: string, tenant: string, title: string) => send(`${url}/notes`, { method: 'POST', headers: { 'x-tenant-id': tenant }, json: { title }, agent });
  const clientsOf = (growsWritersPerInstance: number): MoveAppClient[] =>
    [one.url, twoUrl].flatMap((url) => [
      ...Array.from({ length: growsWritersPerInstance }, () => ({ url, tenant: 'grows', kind: 'write' as const })),
      { url, tenant: 'grows', kind: 'read' as const },
      ...Object.keys(NEIGHBOURS).map((tenant) => ({ url, tenant, kind: 'write' as const })),
    ]);

  /** 'grows' at `at` holds exactly the seed and every acknowledged write; the neighbours exactly theirs, all 2xx. */
  async function expectAllAt(at: Place, load: MoveAppLoad): Promise<void> {
    for (const [tenant, titles] of load.acked) for (const title of titles) acked.get(tenant)?.add(title);
    const titles = (await places.titlesAt(at, 'grows', 'p%')) ?? [];
    const there = new Set(titles);
    const lost = [...(acked.get('grows') ?? [])].filter((t) => !there.has(t));
    expect({ at, lost, rows: titles.length }).toEqual({ at, lost: [], rows: acked.get('grows')?.size });
    expect((await places.titlesAt(at, 'grows', 'seed-%'))?.length).toBe(SEED);
    for (const [tenant, on] of Object.entries(NEIGHBOURS)) {
      const rows = (await places.titlesAt({ server: on, tier: 'schema' }, tenant)) ?? [];
      expect({ tenant, rows: [...rows].sort() }).toEqual({ tenant, rows: [...(acked.get(tenant) ?? [])].sort() });
      expect(load.acked.get(tenant)?.length).toBeGreaterThan(0);
      // on a failure, the first answers that were not 2xx say what happened (a transport error once failed here in a
      // full CI run, 2026-12-02, and never in a run of this file alone)
      const unexpected = load.unexpectedOf(tenant);
      const samples = Object.keys(unexpected).length ? load.samples.filter((sample) => sample.tenant === tenant) : [];
      expect({ tenant, unexpected, samples }).toEqual({ tenant, unexpected: {}, samples: [] });
    }
    expect(load.foreign).toEqual([]);
    // 'grows' sees at most a 503 (a request held past 10 s, or one that reached the renamed source), never a 500
    expect({ unexpected: load.unexpectedOf('grows', ['503']) }).toEqual({ unexpected: {} });
  }

  const expectedState = (at: Place) => places.expectedStates('grows', at, { x: ['nextdoor'], y: ['there'] });
  async function expectOnlyAt(at: Place): Promise<void> {
    expect(await places.recordOf('grows')).toEqual(at);
    expect({ x: await places.stateOf('x'), y: await places.stateOf('y') }).toEqual(expectedState(at));
  }

  /** A write through each instance lands at `at`: both serve the tenant from there. */
  async function expectServedFrom(at: Place, label: string): Promise<void> {
    for (const [instance, url] of [['two', twoUrl], ['one', one.url]] as const) {
      const title = `${label}-via-${instance}`;
      expect({ instance, outcome: await post(url, 'grows', title) }).toMatchObject({ instance, outcome: { kind: 'ok', status: 201 } });
      acked.get('grows')?.add(title);
      expect(await places.titlesAt(at, 'grows', title)).toEqual([title]);
    }
  }

  /** Moves 'grows' to `to` under the load; checks everything and records the figures. */
  async function moveUnderLoad(from: Place, to: Place, label: string, writersPerInstance: number): Promise<void> {
    const clients = clientsOf(writersPerInstance);
    const load = startLoad(clients, label, agent);
    await sleep(1_000);
    const started = performance.now();
    const result = await lifecycle.move('grows', to);
    const moveMs = Math.round(performance.now() - started);
    await sleep(1_000); // the writers go on, at the new place
    await load.stop();

    expect(result).toMatchObject({ tenantId: 'grows', from, to, moved: true, tables: 2 });
    expect(result.rows).toBeGreaterThan(SEED);
    expect(result.pausedMs).toBeLessThan(HANG_MS);
    const gap = load.longestWriteGap('grows');
    expect(gap).toBeLessThan(HANG_MS);
    await expectAllAt(to, load);
    await expectOnlyAt(to);
    await expectServedFrom(to, `${label}-after`);
    measured.push(
      `${from.server}/${from.tier} -> ${to.server}/${to.tier}, ${result.rows} rows, ${clients.length} clients: move ${moveMs} ms, writes paused (result.pausedMs) ${result.pausedMs} ms, ` +
        `longest writer gap of 'grows' ${gap} ms (instance one ${load.longestWriteGap('grows', one.url)} ms, two ${load.longestWriteGap('grows', twoUrl)} ms); ` +
        `answers ${JSON.stringify(Object.fromEntries(['grows', ...Object.keys(NEIGHBOURS)].map((t) => [t, load.statusesOf(t)])))}` +
        (load.samples.length ? `; non-2xx: ${JSON.stringify(load.samples).slice(0, 600)}` : ''),
    );
  }

  beforeAll(async () => {
    cluster = await startPgServers(['hub', 'x', 'y'], { wal_level: 'logical' });
    const server = (name: string) => cluster.servers.find((s) => s.name === name) as TestPgServer;
    await server('hub').sql('postgres', `create database "${hubDb}"`);
    const hub = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(hubDb), entities: [PlacedTenant] }));
    await hub.schema.create();
    await hub.close();
    for (const name of ['x', 'y']) await server(name).sql('postgres', `create database "${tenantsDb}"`);
    const connection = (s: TestPgServer) => ({ host: s.host, port: s.port, user: s.user, ...(s.password ? { password: s.password } : {}) });
    setup = { hubDb, tenantsDb, tierDbPrefix: uniqueName('mttier'), servers: { x: connection(server('x')), y: connection(server('y')) } };
    places = new MoveTiersPlaces({ hub: server('hub'), x: server('x'), y: server('y') }, setup);

    one = await startApp(moveTiersMetadata(setup));
    lifecycle = one.app.get(TenantLifecycle);
    for (const [tenant, on] of [['grows', 'x'], ...Object.entries(NEIGHBOURS)]) await lifecycle.create(tenant as string, {}, { server: on });
    await server('x').sql(tenantsDb, `insert into tenant_grows.note (title, marker) select 'seed-' || g, 'grows' from generate_series(1, ${SEED}) g; analyze tenant_grows.note`);

    two = new TsProcess('test/reliability/support/move-tiers-instance.ts', [], { MOVE_TIERS_SETUP: JSON.stringify(setup), PGAPPNAME: 'move-tiers-two' });
    await two.waitFor(() => /LISTENING (\S+)\n/.test(two.stdout), 'instance two to listen', 60_000);
    twoUrl = /LISTENING (\S+)\n/.exec(two.stdout)?.[1] as string;
    // every instance has every tenant cached (for 10 min) and listens for changes before anything moves
    for (const url of [one.url, twoUrl]) for (const tenant of acked.keys()) expect(await send(`${url}/notes/recent`, { headers: { 'x-tenant-id': tenant }, agent })).toMatchObject({ status: 200 });
    const listening = async () =>
      (await server('hub').sql(hubDb, `select 1 from pg_stat_activity where datname = $1 and (query like 'listen %' or query = 'select pg_notify($1, $2)')`, [hubDb])).length === 2;
    expect(await pollUntil(listening, 15_000, 50)).toBe(true);
    expect(await places.recordOf('grows')).toEqual({ server: 'x', tier: null }); // created in the shared tier: not set
    expect({ x: await places.stateOf('x'), y: await places.stateOf('y') }).toEqual(expectedState({ server: 'x', tier: 'schema' }));
  }, 180_000);

  afterEach(async () => {
    await Promise.all(loads.splice(0).map((load) => load.stop()));
  }, 60_000);

  afterAll(async () => {
    process.stdout.write(`[tenant move between tiers, app level] ${SEED} seed notes, two instances over HTTP:\n  ${measured.join('\n  ')}\n`);
    two?.kill('SIGTERM');
    await two?.exited;
    await one?.close();
    agent.destroy();
    await places?.on('hub').sql('postgres', `drop database if exists "${hubDb}" with (force)`);
    await cluster?.stop();
  }, 60_000);

  it('moves a 50k-row tenant from the shared database of x to a database of its own on x while both instances serve it', async () => {
    await moveUnderLoad({ server: 'x', tier: 'schema' }, { server: 'x', tier: 'database' }, 'p1', 2);
  }, 120_000);

  it('moves it back to the shared tier under writes; its own database is dropped', async () => {
    await moveUnderLoad({ server: 'x', tier: 'database' }, { server: 'x', tier: 'schema' }, 'p2', 1);
    expect(await places.on('x').sql('postgres', 'select datname from pg_database where datname = $1', [tierDatabaseOf(setup, 'grows')])).toEqual([]);
  }, 120_000);

  it('moves it across servers and tiers at once: from the shared tier of x to the database tier of y, under writes', async () => {
    await moveUnderLoad({ server: 'x', tier: 'schema' }, { server: 'y', tier: 'database' }, 'p3', 2);
  }, 120_000);

  it('a rerun of the finished move, through the API and the CLI, answers moved: false and changes nothing', async () => {
    const to: Place = { server: 'y', tier: 'database' };
    const snapshot = async () => ({ record: await places.recordOf('grows'), rows: (await places.titlesAt(to, 'grows'))?.length, x: await places.stateOf('x'), y: await places.stateOf('y') });
    const before = await snapshot();
    expect(await lifecycle.move('grows', to)).toEqual({ tenantId: 'grows', from: to, to, moved: false });
    expect(await snapshot()).toEqual(before);

    const cli = spawnCli(['tenant', 'move', 'grows', '--server', 'y', '--tier', 'database', '--module', 'test/reliability/support/move-tiers.module.ts'], { MOVE_TIERS_SETUP: JSON.stringify(setup) });
    const exit = await cli.exited;
    expect({ code: exit.code, stdout: exit.stdout }).toMatchObject({ code: 0, stdout: expect.stringContaining("Tenant 'grows' already lives on server 'y' (database tier)") });
    expect(await snapshot()).toEqual(before);
    await expectServedFrom(to, 'p4-after');
    measured.push(`rerun of the finished move: moved false, nothing changed (API, and the CLI in ${cli.elapsedMs} ms)`);
  }, 120_000);

  it('a move interrupted right after the switch (database tier of y -> database tier of x, under writes) is finished by a rerun: the source database dropped', async () => {
    const from: Place = { server: 'y', tier: 'database' };
    const to: Place = { server: 'x', tier: 'database' };
    const load = startLoad(clientsOf(1), 'p5', agent);
    await sleep(500);
    // the mover stops between the switch and the cleanup (as if it died there): the record names x, y still holds
    // the parked copy, the publication and the slot, x the subscription
    const interruption = new Error('stopped by the test right after the switch');
    const stop = (step: string) => {
      if (step === 'switched') throw interruption;
    };
    expect(await lifecycle.move('grows', { ...to, onStep: stop }).then(() => 'completed', (error: unknown) => error)).toBe(interruption);
    const left = { record: await places.recordOf('grows'), x: await places.stateOf('x'), y: await places.stateOf('y') };
    expect(left).toMatchObject({ record: to, x: { subscriptions: '1' }, y: { slots: '1', tierDatabases: { [tierDatabaseOf(setup, 'grows')]: { publications: '1' } } } });
    const rerun = await lifecycle.move('grows', to);
    await sleep(500);
    await load.stop();

    expect(rerun).toEqual({ tenantId: 'grows', from: to, to, moved: false });
    await expectAllAt(to, load);
    await expectOnlyAt(to); // y's tier database included: gone
    await expectServedFrom(to, 'p5-after');
    measured.push(`${from.server}/${from.tier} -> ${to.server}/${to.tier} stopped right after the switch, rerun: moved false, cleanup finished; left before the rerun ${JSON.stringify(left)}; longest writer gap ${load.longestWriteGap('grows')} ms`);
  }, 120_000);

  it('the CLI moving it from the database tier of x to the shared tier of y, SIGKILLed at several steps under writes, completes on reruns', async () => {
    const env = { MOVE_TIERS_SETUP: JSON.stringify(setup) };
    const to: Place = { server: 'y', tier: 'schema' };
    const load = startLoad(clientsOf(1), 'p6', agent);
    await sleep(500);
    // killed at each point in turn (a run that ends before its point completed); after the switch the source's
    // database is still there until a rerun drops it
    const killPoints = [/grows: subscribed/, /grows: writes paused/, /grows: record switched/, /grows: source copy removed/];
    const runs: string[] = [];
    const state = async () => JSON.stringify({ record: await places.recordOf('grows'), x: await places.stateOf('x'), y: await places.stateOf('y') });
    let last: { code: number | null; stdout: string; stderr: string } | undefined;
    for (let run = 0; run <= killPoints.length && !last; run++) {
      const point = killPoints[run];
      const cli = spawnCli(['tenant', 'move', 'grows', '--server', 'y', '--tier', 'schema', '--module', 'test/reliability/support/move-tiers.module.ts'], env);
      const killed = point ? await cli.waitFor(() => point.test(cli.stdout), `the CLI to print ${point}`, 120_000).then(() => true, () => false) : false;
      if (killed) cli.kill('SIGKILL');
      const exit = await cli.exited;
      if (killed) {
        expect(exit.signal).toBe('SIGKILL');
        runs.push(`killed at ${point} after ${cli.elapsedMs} ms: ${await state()}`);
      } else {
        last = exit;
        runs.push(`ran to the end in ${cli.elapsedMs} ms (exit ${exit.code}): ${exit.stdout.trim().split('\n').join(' | ')}${exit.code ? ` stderr: ${exit.stderr}` : ''}`);
      }
    }
    await sleep(500);
    await load.stop();

    expect({ code: last?.code, stderr: last?.stderr, runs }).toEqual({ code: 0, stderr: expect.not.stringMatching(/error/i), runs });
    expect(last?.stdout).toMatch(/Tenant 'grows' (moved from server 'x' \(database tier\) to|already lives on) server 'y' \(schema tier\)/);
    expect(runs.length).toBeGreaterThanOrEqual(3); // at least the copy and the fence were cut short
    await expectAllAt(to, load);
    await expectOnlyAt(to); // x's tier database included: gone
    await expectServedFrom(to, 'p6-after');
    measured.push(
      `CLI move x/database -> y/schema (each run boots the app), SIGKILLed, rerun:\n    ${runs.join('\n    ')}\n` +
        `    longest writer gap ${load.longestWriteGap('grows')} ms (after a kill in the last step the instances hold the tenant until a rerun says 'moved', 5 s after the dead mover's last renewal at most); answers ${JSON.stringify(Object.fromEntries(['grows', ...Object.keys(NEIGHBOURS)].map((t) => [t, load.statusesOf(t)])))}`,
    );
  }, 300_000);
});
