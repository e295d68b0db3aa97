/**
 * PostgreSQL stopped under load and started again, in both isolation modes: during the outage every request fails
 * fast with a 503 (no hang, no 500, no unhandled rejection); afterwards the app recovers by itself; every write
 * acknowledged before the outage is still there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextMigrations, MikroTenancyModule, TenantLifecycle, type TenantIsolation } from '../../src/index.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/embedded-postgres.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { type Outcome, startLoadLoop } from './support/load-loop.js';

const TENANTS = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
const WORKERS = 8;
const FAIL_FAST_MS = 2_000;
const RECOVERY_MS = 10_000;

describe.each<TenantIsolation>(['schema', 'database'])('database restart under load (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('rs');
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => void crashes.push(error);
  let server: EmbeddedPostgres;
  let previousUrl: string | undefined;
  let hubDb: string;
  let app: RunningApp;

  beforeAll(async () => {
    // a server of its own, since this file stops it; the helpers in test-databases follow TEST_DATABASE_URL
    server = await startEmbeddedPostgres();
    previousUrl = process.env.TEST_DATABASE_URL;
    process.env.TEST_DATABASE_URL = server.url;
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    hubDb = await databases.create('rshub');
    app = await startApp({
      imports: [MikroTenancyModule.forRoot(lifecycleOptions({ isolation, hubDb, databasePrefix })), MikroTenancyModule.forFeature([Note], 'tenant')],
      controllers: [NotesController],
      providers: [NotesService],
    });
    await app.app.get(ContextMigrations).up('hub');
    for (const id of TENANTS) await app.app.get(TenantLifecycle).create(id);
  }, 120_000);

  afterAll(async () => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
    await app?.close();
    await server?.stop(); // the whole cluster goes, with every database in it
    process.env.TEST_DATABASE_URL = previousUrl;
  });

  it('fails fast with 503 while PostgreSQL is down, recovers by itself, and loses no acknowledged write', async () => {
    const load = startLoadLoop(WORKERS, async (worker, seq) => {
      const tenant = TENANTS[(worker + seq) % TENANTS.length] as string;
      const title = `w${worker}-${seq}`;
      try {
        const response = await fetch(`${app.url}/notes`, {
          method: 'POST',
          headers: { 'x-tenant-id': tenant, 'content-type': 'application/json' },
          body: JSON.stringify({ title }),
          signal: AbortSignal.timeout(FAIL_FAST_MS * 3),
        });
        const body = (await response.json()) as { message?: string };
        if (response.status === 503 && !/^The database/.test(body.message ?? '')) throw new Error(`unexpected 503 message: ${body.message}`);
        return { status: response.status, tenant, title };
      } catch (error) {
        return { status: error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network', tenant, title };
      }
    });

    await sleep(1_500);
    const downAt = load.now();
    await server.pause('fast');
    const downFrom = load.now(); // every connection is gone from here on
    await sleep(3_000);
    const upFrom = load.now();
    await server.resume();
    const resumedAt = load.now();
    const recovered = await waitFor(() => load.outcomes.some((o) => o.at > resumedAt && o.status === 201), RECOVERY_MS);
    const recoveredAt = load.now();
    await sleep(1_500);
    const steadyFrom = load.now();
    await sleep(1_000);
    await load.stop();

    const { outcomes } = load;
    const inWindow = (from: number, to: number) => outcomes.filter((o) => o.at >= from && o.at + o.ms <= to);
    const outage = inWindow(downFrom, upFrom);
    const steady = outcomes.filter((o) => o.at >= steadyFrom);
    const statuses = countBy(outcomes, (o) => String(o.status));
    console.log(
      `database restart (${isolation}): ${outcomes.length} requests ${JSON.stringify(statuses)}; outage ${Math.round(upFrom - downAt)} ms ` +
        `(${outage.length} requests, slowest ${Math.round(Math.max(0, ...outage.map((o) => o.ms)))} ms); ` +
        `recovered ${Math.round(recoveredAt - resumedAt)} ms after the restart; steady after: ${steady.filter((o) => o.status === 201).length}/${steady.length} ok`,
    );

    expect(crashes).toEqual([]);
    expect(Object.keys(statuses).sort()).toEqual(['201', '503']); // no 500, no hang, no dropped connection
    expect(outage.length).toBeGreaterThan(0);
    expect(outage.every((o) => o.status === 503)).toBe(true);
    expect(Math.max(...outage.map((o) => o.ms))).toBeLessThan(FAIL_FAST_MS);
    expect(recovered).toBe(true);
    expect(steady.length).toBeGreaterThan(0);
    expect(steady.every((o) => o.status === 201)).toBe(true);

    // every 201 is in the tenant's own table, and nothing else is
    for (const tenant of TENANTS) {
      const acknowledged = outcomes.filter((o) => o.tenant === tenant && o.status === 201).map((o) => o.title as string);
      const { db, schema } = isolation === 'schema' ? { db: hubDb, schema: `tenant_${tenant}` } : { db: `${databasePrefix}_${tenant}`, schema: 'public' };
      const rows = await sql<{ title: string; marker: string }>(db, `select title, marker from "${schema}".note`);
      expect(rows.filter((r) => r.marker !== tenant)).toEqual([]);
      const stored = new Set(rows.map((r) => r.title));
      expect(acknowledged.filter((title) => !stored.has(title))).toEqual([]);
    }
  }, 60_000);
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(50);
  }
  return condition();
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

export type { Outcome };
