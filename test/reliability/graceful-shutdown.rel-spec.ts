/**
 * Graceful shutdown under load: the app runs in a child process (test/reliability/support/shutdown-app.ts), gets a
 * batch of slow requests (a pause between queries, pg_sleep in the database), then SIGTERM while they are in flight.
 * In-flight requests must complete with 200/201, the process must end by itself with code 0 within a few seconds
 * (it only calls app.close(): a timer, socket or pool left open would keep it alive), and PostgreSQL must show no
 * session of it afterwards (its sessions carry their own application_name, through PGAPPNAME).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextMigrations, TenantLifecycle, type TenantIsolation } from '../../src/index.js';
import { lifecycleModule } from '../fixtures/lifecycle-app.js';
import { type Platform, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { TsProcess, pollUntil } from './support/child-process.js';
import { type Outcome, newHttpAgent, send } from './support/soak.js';

const TENANTS = ['g1', 'g2', 'g3', 'g4'];
const PAUSE_MS = 500;
const EXIT_WITHIN_MS = 5_000;

describe.each<[TenantIsolation, Platform]>([
  ['schema', 'express'],
  ['schema', 'fastify'],
  ['database', 'express'],
  ['database', 'fastify'],
])('graceful shutdown under load (%s isolation, %s)', (isolation, platform) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('gs');
  let hubDb: string;

  const sessionsOf = async (appName: string, queryLike = '%') =>
    Number((await sql<{ n: string }>('postgres', 'select count(*)::text as n from pg_stat_activity where application_name = $1 and query like $2', [appName, queryLike]))[0]?.n);

  beforeAll(async () => {
    hubDb = await databases.create('gshub');
    const setup = await startApp({ imports: [lifecycleModule({ isolation, hubDb, databasePrefix })] });
    try {
      await setup.app.get(ContextMigrations).up('hub');
      for (const id of TENANTS) await setup.app.get(TenantLifecycle).create(id);
    } finally {
      await setup.close();
    }
  });

  afterAll(async () => {
    await databases.dropAll(databasePrefix);
  });

  it('SIGTERM: in-flight requests complete, the process exits by itself with code 0, no PostgreSQL session is left', async () => {
    const appName = `gs-${isolation}-${platform}-${process.pid}`;
    const child = new TsProcess('test/reliability/support/shutdown-app.ts', [], {
      SHUTDOWN_HUB_DB: hubDb,
      SHUTDOWN_ISOLATION: isolation,
      SHUTDOWN_DATABASE_PREFIX: databasePrefix,
      SHUTDOWN_PLATFORM: platform,
      PGAPPNAME: appName,
    });
    try {
      await child.waitFor(() => /LISTENING (\S+)\n/.test(child.stdout), 'the app to listen', 30_000);
      const url = /LISTENING (\S+)\n/.exec(child.stdout)?.[1] as string;
      const agent = newHttpAgent();
      // every tenant opened once (database mode: its ORM and pool), so the app holds connections when it stops
      for (const id of TENANTS) expect(await send(`${url}/notes`, { headers: { 'x-tenant-id': id }, agent })).toMatchObject({ kind: 'ok', status: 200 });
      const sessionsBefore = await sessionsOf(appName);
      expect(sessionsBefore).toBeGreaterThan(0);
      // one open keep-alive socket per request of the batch, so each is sent at once
      await Promise.all(Array.from({ length: 12 }, () => send(`${url}/health`, { agent })));
      const arrivals = () => [...child.stdout.matchAll(/^ARRIVED (\d+)$/gm)].length;
      const arrivedBefore = arrivals();

      // the batch: per tenant a read and a write pausing between queries, and a 500 ms pg_sleep
      const batch = TENANTS.flatMap((id) => {
        const headers = { 'x-tenant-id': id };
        return [
          { id, what: 'read', expected: 200, run: () => send(`${url}/notes?pause=${PAUSE_MS}`, { headers, agent }) },
          { id, what: 'write', expected: 201, run: () => send(`${url}/notes?pause=${PAUSE_MS}`, { method: 'POST', headers, json: { title: `in flight ${id}` }, agent }) },
          { id, what: 'pg_sleep', expected: 200, run: () => send(`${url}/slow?ms=${PAUSE_MS}`, { headers, agent }) },
        ];
      });
      const batchStarted = performance.now();
      const finishedAt: number[] = [];
      const results = batch.map((request) =>
        request.run().then((outcome) => {
          finishedAt.push(performance.now());
          return outcome;
        }),
      );
      // SIGTERM once the app has received every request of the batch and the database is busy with it (a pg_sleep)
      await child.waitFor(() => arrivals() >= arrivedBefore + batch.length, `${batch.length} requests to arrive`, 5_000);
      expect(await pollUntil(async () => (await sessionsOf(appName, '%pg_sleep%')) > 0, 5_000, 5)).toBe(true);
      const sigtermAt = performance.now();
      child.kill('SIGTERM');
      const inFlightAtSigterm = batch.length - finishedAt.length;

      // a request that arrives during the shutdown, on a new connection: refused or 503, never a hang
      await sleep(100);
      const lateAgent = newHttpAgent();
      const late = await send(`${url}/notes`, { headers: { 'x-tenant-id': 'g1' }, agent: lateAgent });
      lateAgent.destroy();

      const outcomes: Outcome[] = await Promise.all(results);
      const lastResponseMs = Math.round(Math.max(...finishedAt) - sigtermAt);
      agent.destroy();
      let timer: NodeJS.Timeout | undefined;
      const exitedWithin = await Promise.race([child.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, EXIT_WITHIN_MS, false)))]);
      clearTimeout(timer);
      const exitMs = Math.round(performance.now() - sigtermAt);
      const sessionsAtExit = exitedWithin ? await sessionsOf(appName) : -1;
      const sessionsGone = await pollUntil(async () => (await sessionsOf(appName)) === 0, 2_000, 20);
      const exit = exitedWithin ? await child.exited : undefined;
      const lateText = late.kind === 'ok' ? `HTTP ${late.status}` : late.kind === 'error' ? late.detail.replace(/^GET \S+: /, '') : 'aborted';
      process.stdout.write(
        `[shutdown ${isolation}/${platform}] ${batch.length} requests (${inFlightAtSigterm} in flight at SIGTERM, ${Math.round(sigtermAt - batchStarted)} ms after they started): ` +
          `${outcomes.filter((o) => o.kind === 'ok' && o.status < 300).length} answered 2xx, last one ${lastResponseMs} ms after SIGTERM; ` +
          `late request: ${lateText}; app.close() took ${/CLOSED (\d+)/.exec(child.stdout)?.[1] ?? '?'} ms; ` +
          `process ${exit ? `exited (code ${exit.code}, signal ${exit.signal}) ${exitMs} ms after SIGTERM` : `still running ${exitMs} ms after SIGTERM`}; ` +
          `PostgreSQL sessions: ${sessionsBefore} before, ${sessionsAtExit} at exit, ${sessionsGone ? 0 : 'some'} 2 s later\n`,
      );

      expect(inFlightAtSigterm).toBe(batch.length);
      expect(batch.map((request, i) => ({ request: `${request.what} ${request.id}`, outcome: outcomes[i] }))).toEqual(
        batch.map((request) => ({ request: `${request.what} ${request.id}`, outcome: expect.objectContaining({ kind: 'ok', status: request.expected }) })),
      );
      for (const [i, request] of batch.entries()) {
        const body = (outcomes[i] as Outcome & { kind: 'ok' }).body;
        if (request.what === 'write') expect(body).toMatchObject({ title: `in flight ${request.id}`, marker: request.id });
        if (request.what === 'read') expect((body as { marker: string }[]).every((row) => row.marker === request.id)).toBe(true);
      }
      expect(late.kind === 'error' || (late.kind === 'ok' && late.status === 503)).toBe(true);
      expect(exit).toMatchObject({ code: 0, signal: null, stderr: '' });
      expect(child.stdout).toMatch(/\nSIGTERM\nCLOSED \d+\n$/);
      expect(sessionsGone).toBe(true);
      // the acknowledged writes made it to PostgreSQL
      for (const id of TENANTS) {
        const where = isolation === 'schema' ? { db: hubDb, table: `"tenant_${id}".note` } : { db: `${databasePrefix}_${id}`, table: 'note' };
        expect(await sql(where.db, `select title, marker from ${where.table} where title = $1`, [`in flight ${id}`])).toEqual([{ title: `in flight ${id}`, marker: id }]);
      }
    } finally {
      if (child.running) child.kill('SIGKILL');
      await child.exited;
    }
  }, 60_000);
});
