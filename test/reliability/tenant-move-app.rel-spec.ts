/**
 * Issue 17, the app-level proof of TenantLifecycle.move (schema mode): two app instances (this process and a child
 * process, both listening for the hub's changes, lookups cached for 10 min so only a notification can tell them)
 * serve three tenants over HTTP while 'mover' (100k notes) moves from server x to server y, both real clusters with
 * wal_level = logical; the hub is on the test server. Clients write and read through both instances all along.
 * Checked by SQL on the servers: every acknowledged write is on the target (and nothing else was written), the
 * source schema and every replication object are gone, the record names the target, both instances then serve
 * the tenant from there; the other tenants never see a non-2xx. Then a rerun (no-op), a move back, and the CLI
 * SIGKILLed at several steps and rerun until it completes.
 *
 * Printed: the pause (result.pausedMs) and the longest a writer of 'mover' went without an acknowledgement. The
 * issue's target is under 2 s for 100k rows; only a hang is asserted (15 s).
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
import { type MoveAppSetup, moveAppMetadata } from './support/move-app-options.js';
import { newHttpAgent, send } from './support/soak.js';

const SEED = 100_000;
/** Only a hang fails on time: the target (2 s) is printed, not asserted. */
const HANG_MS = 15_000;
const MODULE = 'test/reliability/support/move-app.module.ts';
const SCHEMA = 'tenant_mover';

describe('moving a tenant between servers under two app instances (schema mode, HTTP)', () => {
  const hubDb = uniqueName('mvhub');
  const tenantsDb = uniqueName('mvt');
  const agent = newHttpAgent();
  const measured: string[] = [];
  /** Every title of 'mover' acknowledged so far, over all phases: the tenant's table must hold exactly these. */
  const moverAcked = new Set<string>();
  let cluster: TestPgServers;
  let setup: MoveAppSetup;
  let one: RunningApp;
  let two: TsProcess;
  let twoUrl: string;
  let lifecycle: TenantLifecycle<PlacedTenant>;

  const server = (name: string): TestPgServer => cluster.servers.find((s) => s.name === name) as TestPgServer;
  const titlesOn = async (name: string, tenant: string): Promise<string[] | undefined> => {
    const schema = `tenant_${tenant}`;
    if (!(await server(name).sql(tenantsDb, 'select 1 from pg_namespace where nspname = $1', [schema])).length) return undefined;
    return (await server(name).sql<{ title: string }>(tenantsDb, `select title from "${schema}".note where title not like 'seed-%'`)).map((r) => r.title);
  };
  const seededOn = async (name: string): Promise<number> =>
    Number((await server(name).sql<{ n: string }>(tenantsDb, `select count(*)::text as n from "${SCHEMA}".note where title like 'seed-%'`))[0]?.n);
  const recordOf = async (tenant: string) => (await server('hub').sql<{ server: string }>(hubDb, 'select server from placed_tenant where id = $1', [tenant]))[0]?.server;
  /** Tenant schemas, parked copies and replication objects on a server. */
  const leftOn = async (name: string) => {
    const [row] = await server(name).sql<Record<string, string>>(
      tenantsDb,
      `select (select string_agg(nspname, ',' order by nspname) from pg_namespace where nspname like 'tenant\\_%' or nspname like 'nmt\\_move\\_%') as schemas,
              (select count(*) from pg_publication)::text as publications, (select count(*) from pg_replication_slots)::text as slots,
              (select count(*) from pg_subscription)::text as subscriptions`,
    );
    return row;
  };
  const post = (url: string, tenant: string, title: string) => send(`${url}/notes`, { method: 'POST', headers: { 'x-tenant-id': tenant }, json: { title }, agent });
  /** The load: writers and readers of 'mover' through both instances, writers of 'stay' (x) and 'there' (y). */
  const clientsOf = (moverWritersPerInstance: number): MoveAppClient[] =>
    [one.url, twoUrl].flatMap((url) => [
      ...Array.from({ length: moverWritersPerInstance }, () => ({ url, tenant: 'mover', kind: 'write' as const })),
      { url, tenant: 'mover', kind: 'read' as const },
      { url, tenant: 'stay', kind: 'write' as const },
      { url, tenant: 'there', kind: 'write' as const },
    ]);

  /** The tenant's rows on `name` are exactly the seed plus every acknowledged write; the other tenants' too. */
  async function expectAllOn(name: string, load: MoveAppLoad): Promise<void> {
    for (const title of load.acked.get('mover') ?? []) moverAcked.add(title);
    const titles = (await titlesOn(name, 'mover')) ?? [];
    const there = new Set(titles);
    const lost = [...moverAcked].filter((t) => !there.has(t));
    expect({ server: name, acknowledged: moverAcked.size, lost, rows: titles.length }).toEqual({ server: name, acknowledged: moverAcked.size, lost: [], rows: moverAcked.size });
    expect(await seededOn(name)).toBe(SEED);
    for (const [tenant, on] of [['stay', 'x'], ['there', 'y']] as const) {
      const rows = new Set(await titlesOn(on, tenant));
      const acked = load.acked.get(tenant) ?? [];
      expect({ tenant, lost: acked.filter((t) => !rows.has(t)) }).toEqual({ tenant, lost: [] });
      expect(acked.length).toBeGreaterThan(0);
    }
    expect(load.foreign).toEqual([]);
    // the other tenants never see the move; 'mover' sees at most a 503 (a request held past 10 s, or one that
    // reached the renamed source), never a 500
    for (const tenant of ['stay', 'there']) expect({ tenant, unexpected: load.unexpectedOf(tenant) }).toEqual({ tenant, unexpected: {} });
    expect({ unexpected: load.unexpectedOf('mover', ['503']), samples: load.samples.filter((s) => (s as { outcome: { status?: number } }).outcome.status !== 503) }).toEqual({ unexpected: {}, samples: [] });
  }

  /** Source and target as a finished move leaves them: the tenant only on `to`, nothing of the move anywhere. */
  async function expectOnlyOn(to: 'x' | 'y'): Promise<void> {
    const from = to === 'x' ? 'y' : 'x';
    expect(await recordOf('mover')).toBe(to);
    expect(await leftOn(from)).toEqual({ schemas: from === 'x' ? 'tenant_stay' : 'tenant_there', publications: '0', slots: '0', subscriptions: '0' });
    expect(await leftOn(to)).toEqual({ schemas: to === 'x' ? 'tenant_mover,tenant_stay' : 'tenant_mover,tenant_there', publications: '0', slots: '0', subscriptions: '0' });
  }

  /** A write through each instance lands on `to`: both serve the tenant from there. */
  /** Ms until a read of `tenant` answers 200 through both instances (polled), or `timeoutMs` if it never does. */
  async function msUntilServedEverywhere(tenant: string, timeoutMs: number): Promise<number> {
    const started = performance.now();
    const pending = new Set([one.url, twoUrl]);
    while (pending.size && performance.now() - started < timeoutMs) {
      for (const url of [...pending]) {
        const outcome = await send(`${url}/notes/recent`, { headers: { 'x-tenant-id': tenant }, agent });
        if (outcome.kind === 'ok' && outcome.status === 200) pending.delete(url);
      }
      if (pending.size) await sleep(100);
    }
    return Math.round(performance.now() - started);
  }

  async function expectServedFrom(to: 'x' | 'y', label: string): Promise<void> {
    for (const [instance, url] of [['two', twoUrl], ['one', one.url]] as const) {
      const title = `${label}-via-${instance}`;
      const outcome = await post(url, 'mover', title);
      expect({ instance, outcome }).toMatchObject({ instance, outcome: { kind: 'ok', status: 201 } });
      moverAcked.add(title);
      expect(await titlesOn(to, 'mover')).toContain(title);
    }
  }

  beforeAll(async () => {
    cluster = await startPgServers(['hub', 'x', 'y'], { wal_level: 'logical' });
    await server('hub').sql('postgres', `create database "${hubDb}"`);
    const hub = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(hubDb), entities: [PlacedTenant] }));
    await hub.schema.create();
    await hub.close();
    for (const name of ['x', 'y']) await server(name).sql('postgres', `create database "${tenantsDb}"`);
    const connection = (s: TestPgServer) => ({ host: s.host, port: s.port, user: s.user, ...(s.password ? { password: s.password } : {}) });
    setup = { hubDb, tenantsDb, servers: { x: connection(server('x')), y: connection(server('y')) } };

    one = await startApp(moveAppMetadata(setup));
    lifecycle = one.app.get(TenantLifecycle);
    for (const [tenant, on] of [['mover', 'x'], ['stay', 'x'], ['there', 'y']]) await lifecycle.create(tenant as string, {}, { server: on });
    await server('x').sql(tenantsDb, `insert into "${SCHEMA}".note (title, marker) select 'seed-' || g, 'mover' from generate_series(1, ${SEED}) g; analyze "${SCHEMA}".note`);

    two = new TsProcess('test/reliability/support/move-app-instance.ts', [], { MOVE_APP_SETUP: JSON.stringify(setup), PGAPPNAME: 'move-app-two' });
    await two.waitFor(() => /LISTENING (\S+)\n/.test(two.stdout), 'instance two to listen', 60_000);
    twoUrl = /LISTENING (\S+)\n/.exec(two.stdout)?.[1] as string;
    // every instance has every tenant cached (for 10 min) and listens for changes before anything moves
    for (const url of [one.url, twoUrl]) for (const tenant of ['mover', 'stay', 'there']) expect(await send(`${url}/notes/recent`, { headers: { 'x-tenant-id': tenant }, agent })).toMatchObject({ status: 200 });
    const listening = async () =>
      (await server('hub').sql(hubDb, `select 1 from pg_stat_activity where datname = $1 and (query like 'listen %' or query = 'select pg_notify($1, $2)')`, [hubDb])).length === 2;
    expect(await pollUntil(listening, 15_000, 50)).toBe(true);
  }, 180_000);

  afterAll(async () => {
    process.stdout.write(`[tenant move, app level] ${SEED} notes, two instances over HTTP:\n  ${measured.join('\n  ')}\n`);
    two?.kill('SIGTERM');
    await two?.exited;
    await one?.close();
    agent.destroy();
    await server('hub')?.sql('postgres', `drop database if exists "${hubDb}" with (force)`);
    await cluster?.stop();
  }, 60_000);

  it('moves a 100k-row tenant from x to y while both instances serve it: nothing lost, only 503s, then served from y everywhere', async () => {
    const load = new MoveAppLoad(clientsOf(2), 'p1', agent);
    await sleep(1_500);
    const started = performance.now();
    const result = await lifecycle.move('mover', { server: 'y' });
    const moveMs = Math.round(performance.now() - started);
    await sleep(1_500); // the writers go on, on y
    await load.stop();

    expect(result).toMatchObject({ tenantId: 'mover', from: { server: 'x', tier: 'schema' }, to: { server: 'y', tier: 'schema' }, moved: true, tables: 2 });
    expect(result.rows).toBeGreaterThan(SEED);
    expect(result.pausedMs).toBeLessThan(HANG_MS);
    const gap = load.longestWriteGap('mover');
    expect(gap).toBeLessThan(HANG_MS);
    await expectAllOn('y', load);
    await expectOnlyOn('y');
    await expectServedFrom('y', 'p1-after');
    measured.push(
      `move x -> y with ${clientsOf(2).length} clients: move ${moveMs} ms, writes paused (result.pausedMs) ${result.pausedMs} ms, ` +
        `longest a writer of 'mover' went without an acknowledgement ${gap} ms (through instance one ${load.longestWriteGap('mover', one.url)} ms, two ${load.longestWriteGap('mover', twoUrl)} ms); answers ${JSON.stringify(Object.fromEntries(['mover', 'stay', 'there'].map((t) => [t, load.statusesOf(t)])))}`,
    );
  }, 120_000);

  it('a rerun of the same move changes nothing (moved: false); moving back to x works too', async () => {
    const before = { record: await recordOf('mover'), y: (await titlesOn('y', 'mover'))?.length, x: await leftOn('x'), left: await leftOn('y') };
    const again = await lifecycle.move('mover', { server: 'y' });
    expect(again).toEqual({ tenantId: 'mover', from: { server: 'y', tier: 'schema' }, to: { server: 'y', tier: 'schema' }, moved: false });
    expect({ record: await recordOf('mover'), y: (await titlesOn('y', 'mover'))?.length, x: await leftOn('x'), left: await leftOn('y') }).toEqual(before);

    const load = new MoveAppLoad(clientsOf(1), 'p2', agent);
    await sleep(500);
    const back = await lifecycle.move('mover', { server: 'x' });
    await sleep(500);
    await load.stop();
    expect(back).toMatchObject({ from: { server: 'y' }, to: { server: 'x' }, moved: true });
    await expectAllOn('x', load);
    await expectOnlyOn('x');
    await expectServedFrom('x', 'p2-after');
    measured.push(`rerun: moved false, nothing changed; move back y -> x: writes paused ${back.pausedMs} ms, longest writer gap ${load.longestWriteGap('mover')} ms`);
  }, 120_000);

  it('the CLI, SIGKILLed at several steps while clients write, completes on a rerun: all on y, x empty, nothing lost', async () => {
    const env = { MOVE_APP_SETUP: JSON.stringify(setup) };
    const load = new MoveAppLoad(clientsOf(1), 'p3', agent);
    await sleep(500);
    // kill at each point in turn; a run that ends before its point is the one that completed
    const killPoints = [/mover: subscribed/, /mover: writes paused/, /mover: source renamed away/];
    const runs: string[] = [];
    let last: { code: number | null; stdout: string; stderr: string } | undefined;
    for (let run = 0; run <= killPoints.length && !last; run++) {
      const point = killPoints[run];
      const cli = spawnCli(['tenant', 'move', 'mover', '--server', 'y', '--module', MODULE], env);
      const killed = point ? await cli.waitFor(() => point.test(cli.stdout), `the CLI to print ${point}`, 120_000).then(() => true, () => false) : false;
      if (killed) cli.kill('SIGKILL');
      const exit = await cli.exited;
      if (killed) {
        expect(exit.signal).toBe('SIGKILL');
        let afterKill = '';
        if (/writes paused/.test(String(point)) && (await leftOn('x'))?.schemas?.includes(SCHEMA)) {
          // killed inside the fence transaction: the source ended it with the connection, its locks are gone
          await server('x').sql(tenantsDb, `set lock_timeout = '5s'; insert into "${SCHEMA}".note (title, marker) values ('p3-sql-after-kill', 'mover')`);
          moverAcked.add('p3-sql-after-kill');
          // the dead mover no longer renews its hold: both instances serve the tenant again soon, without a rerun
          const heldMs = await msUntilServedEverywhere('mover', 20_000);
          expect(heldMs).toBeLessThan(15_000); // the hold lapses 5 s after the last renewal (it was 30 s)
          afterKill = `; both instances served 'mover' again ${heldMs} ms after this kill, before any rerun`;
        }
        runs.push(`killed at ${point} after ${cli.elapsedMs} ms: ${JSON.stringify({ record: await recordOf('mover'), x: await leftOn('x'), y: await leftOn('y') })}${afterKill}`);
      } else {
        last = exit;
        runs.push(`rerun to the end in ${cli.elapsedMs} ms (exit ${exit.code}): ${exit.stdout.trim().split('\n').join(' | ')}`);
      }
    }
    await sleep(500);
    await load.stop();

    expect(last).toMatchObject({ code: 0 });
    // the last kill may land just after the killed run switched the record: the rerun then only cleans up
    expect(last?.stdout).toMatch(
      /Tenant 'mover' (moved from server 'x' \(schema tier\) to server 'y' \(schema tier\)|already lives on server 'y' \(schema tier\); what an earlier move left elsewhere was removed)/,
    );
    expect(runs.length).toBeGreaterThanOrEqual(3); // at least the copy and the fence were cut short
    await expectAllOn('y', load);
    await expectOnlyOn('y');
    await expectServedFrom('y', 'p3-after');
    measured.push(
      `CLI move x -> y (each run boots the app), SIGKILLed, rerun:\n    ${runs.join('\n    ')}\n` +
        `    longest writer gap ${load.longestWriteGap('mover')} ms (after a kill in the last step the instances hold the tenant until a rerun says 'moved', 5 s after the dead mover's last renewal at most); answers ${JSON.stringify(Object.fromEntries(['mover', 'stay', 'there'].map((t) => [t, load.statusesOf(t)])))}`,
    );
  }, 240_000);
});
