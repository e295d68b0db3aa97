/**
 * The outbox under faults (issue 19), in both isolation modes: tenants' messages to the analytics context, relayed by a
 * child process that is SIGKILLed between the commit in the tenant and the delivery to analytics; then analytics is
 * down (its database renamed away: connections fail with "database does not exist") while a second relay runs, then
 * back with a handler that fails (charged attempts, backoff), then healthy. Afterwards every message has taken effect
 * exactly once in analytics: 0 lost, 0 duplicated rows, and every redelivery of a message the killed relay had
 * delivered without marking it was found received (duplicates = the messages in doubt at the kill).
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TenancyService, type TenantIsolation } from '../../src/index.js';
import { AccountsService, type OutboxSetup, outboxAppModule } from '../fixtures/outbox/outbox-app.js';
import { clearFault, migrateAndCreate, outboxDatabases, outboxRows, setFault } from '../fixtures/outbox/setup.js';
import { TestDatabases, sql } from '../support/test-databases.js';
import { TsProcess, pollUntil } from './support/child-process.js';

const TENANTS = ['t1', 't2', 't3'];
const PER_TENANT = 40;
const TOTAL = TENANTS.length * PER_TENANT;

interface Counters {
  delivered: number;
  duplicates: number;
  failed: number;
  deadLettered: number;
  deferred: number;
}

/** The last `STATS {...}` line of a relay worker. */
function statsOf(worker: TsProcess): Counters | undefined {
  const line = worker.stdout.split('\n').filter((l) => l.startsWith('STATS ')).at(-1);
  return line ? (JSON.parse(line.slice('STATS '.length)) as Counters) : undefined;
}

describe.each<TenantIsolation>(['schema', 'database'])('outbox: SIGKILL between commit and delivery, receiver down, failing handler (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  let setup: OutboxSetup;
  let workers = 0;

  /** A relay process whose PostgreSQL sessions carry their own application_name. */
  const relayWorker = (env: Record<string, string> = {}) => {
    const appName = `outbox-${isolation}-${++workers}`;
    const options = { relay: { intervalMs: 20, sweepIntervalMs: 200, batchSize: 1000, concurrency: 3 }, maxAttempts: 50, backoff: { initialMs: 10, maxMs: 100 } };
    const worker = new TsProcess('test/fixtures/outbox/relay-worker.ts', [], {
      OUTBOX_HUB_DB: setup.hubDb,
      OUTBOX_ANALYTICS_DB: setup.analyticsDb,
      OUTBOX_ISOLATION: isolation,
      OUTBOX_DATABASE_PREFIX: setup.databasePrefix,
      OUTBOX_OPTIONS: JSON.stringify(options),
      PGAPPNAME: appName,
      ...env,
    });
    return { appName, worker };
  };
  const sessionsOf = async (appName: string, queryLike = '%') =>
    Number((await sql<{ n: string }>('postgres', 'select count(*)::text as n from pg_stat_activity where application_name = $1 and query like $2', [appName, queryLike]))[0]?.n);
  const projectionCount = async () => Number((await sql<{ n: string }>(setup.analyticsDb, 'select count(*)::text as n from account_projection'))[0]?.n);
  const allRows = async () => (await Promise.all(TENANTS.map(async (id) => (await outboxRows(setup, id)).map((row) => ({ ...row, tenant: id }))))).flat();

  /** Renames a database; sessions still on it (a pool, an autovacuum worker) are ended first, and it is retried. */
  async function renameDatabase(from: string, to: string): Promise<void> {
    const renamed = await pollUntil(async () => {
      await sql('postgres', 'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [from]);
      try {
        await sql('postgres', `alter database "${from}" rename to "${to}"`);
        return true;
      } catch (error) {
        if (/is being accessed by other users/.test((error as Error).message)) return false;
        throw error;
      }
    }, 10_000, 20);
    expect(renamed).toBe(true);
  }

  beforeAll(async () => {
    setup = await outboxDatabases(databases, isolation);
    // the writer: every message committed in its tenant's transaction, together with the account it announces
    const writer: INestApplicationContext = await NestFactory.createApplicationContext(outboxAppModule({ ...setup, outbox: { relay: { enabled: false } } }), { logger: ['error', 'warn'] });
    try {
      await migrateAndCreate(writer, TENANTS);
      const tenancy = writer.get(TenancyService);
      const accounts = writer.get(AccountsService);
      await Promise.all(TENANTS.map(async (id) => {
        for (let i = 0; i < PER_TENANT; i++) await tenancy.run(id, () => accounts.create(`a${i}@${id}.test`));
      }));
    } finally {
      await writer.close();
    }
  }, 120_000);

  afterAll(async () => {
    await databases.dropAll(setup.databasePrefix as string);
  });

  it('delivers every message exactly once in effect: 0 lost, 0 duplicated', async () => {
    expect((await allRows()).filter((r) => r.status === 'pending')).toHaveLength(TOTAL);

    // 1. a relay delivering slowly (20 ms inside each receiving transaction), killed while one of them sleeps
    const first = relayWorker({ OUTBOX_HANDLER_SLEEP_MS: '20' });
    await first.worker.waitFor(() => first.worker.stdout.includes('READY'), 'the first relay to boot', 60_000);
    expect(await pollUntil(async () => (await projectionCount()) >= 10 && (await sessionsOf(first.appName, '%pg_sleep%')) > 0, 30_000, 5)).toBe(true);
    first.worker.kill('SIGKILL');
    expect((await first.worker.exited).signal).toBe('SIGKILL');
    expect(await pollUntil(async () => (await sessionsOf(first.appName)) === 0, 10_000, 25)).toBe(true);

    const receivedAtKill = await projectionCount();
    const receipts = new Set((await sql<{ message_id: string }>(setup.analyticsDb, 'select message_id from mikro_tenancy_outbox_receipt')).map((r) => r.message_id));
    const rowsAtKill = await allRows();
    // committed in the tenant, not (yet) in analytics: the relay died between the two
    const undelivered = rowsAtKill.filter((r) => !receipts.has(r.id)).length;
    // in analytics, but still pending in the tenant: the marks of a batch commit only when it ends
    const inDoubt = rowsAtKill.filter((r) => receipts.has(r.id) && r.status === 'pending').length;
    expect(receivedAtKill).toBe(receipts.size); // the projection and its receipt commit together, or neither
    expect(undelivered).toBeGreaterThan(0);
    expect(inDoubt).toBeGreaterThan(0);
    expect(rowsAtKill.filter((r) => r.status === 'dead')).toEqual([]);

    // 2. analytics down: its database renamed away, a second relay started against it
    await setFault(setup, 'account.created', 'receiver deploy broken'); // for step 3, written before the outage
    const away = `${setup.analyticsDb}_away`;
    await renameDatabase(setup.analyticsDb, away);
    const second = relayWorker();
    let downStats: Counters | undefined;
    try {
      await second.worker.waitFor(() => (statsOf(second.worker)?.deferred ?? 0) >= 2 * TENANTS.length, 'deferred deliveries while analytics is down', 60_000);
      downStats = statsOf(second.worker);
      const whileDown = await allRows();
      // an outage is not the messages' fault: nothing counted, nothing dead, each waits with the reason
      expect(whileDown.filter((r) => r.status !== 'pending' && !(rowsAtKill.find((k) => k.id === r.id)?.status === 'delivered'))).toEqual([]);
      expect(Math.max(...whileDown.map((r) => r.attempts))).toBe(Math.max(...rowsAtKill.map((r) => r.attempts)));
      expect(whileDown.some((r) => /context 'analytics' unavailable \(the database does not exist\); not counted as an attempt/.test(r.last_error ?? ''))).toBe(true);

      // 3. analytics back, its handler failing: attempts counted, backing off, none dead (maxAttempts 50)
      await renameDatabase(away, setup.analyticsDb);
      await second.worker.waitFor(() => (statsOf(second.worker)?.failed ?? 0) >= 3 * TENANTS.length, 'failed attempts after analytics is back', 60_000);
      expect((await allRows()).filter((r) => r.status === 'dead')).toEqual([]);

      // 4. fixed: everything goes through
      await clearFault(setup, 'account.created');
      expect(await pollUntil(async () => (await allRows()).every((r) => r.status === 'delivered'), 60_000, 50)).toBe(true);
    } finally {
      second.worker.kill('SIGTERM');
    }
    const exit = await second.worker.exited;
    expect(exit.stdout).toContain('CLOSED');
    const stats = statsOf(second.worker) as Counters;

    // exactly once in effect: one projection per account, every account projected, nothing else
    const accounts = (await Promise.all(TENANTS.map(async (id) => {
      const where = isolation === 'schema' ? { db: setup.hubDb, table: `"tenant_${id}".account` } : { db: `${setup.databasePrefix}_${id}`, table: 'account' };
      return (await sql<{ id: number }>(where.db, `select id from ${where.table}`)).map((a) => `${id}/${a.id}`);
    }))).flat().sort();
    const projected = (await sql<{ key: string }>(setup.analyticsDb, "select tenant || '/' || account_id as key from account_projection")).map((p) => p.key).sort();
    expect(accounts).toHaveLength(TOTAL);
    expect(projected).toEqual(accounts); // 0 lost, 0 duplicated
    expect(Number((await sql<{ n: string }>(setup.analyticsDb, 'select count(*)::text as n from mikro_tenancy_outbox_receipt'))[0]?.n)).toBe(TOTAL);
    const final = await allRows();
    expect(final.filter((r) => r.status !== 'delivered')).toEqual([]);
    // the second relay redelivered exactly the messages in doubt, found them received, and delivered the rest
    expect({ duplicates: stats.duplicates, delivered: stats.delivered, deadLettered: stats.deadLettered }).toEqual({ duplicates: inDoubt, delivered: TOTAL - receivedAtKill, deadLettered: 0 });
    process.stdout.write(
      `[outbox ${isolation}] ${TOTAL} messages from ${TENANTS.length} tenants to analytics. SIGKILL of the first relay: ` +
        `${receivedAtKill} received, ${inDoubt} of them not yet marked delivered in the tenant (in doubt), ${undelivered} not delivered. ` +
        `Second relay: ${downStats?.deferred} deferred while analytics was down (0 attempts counted), ${stats.failed} failed attempts while its ` +
        `handler failed (max attempts of a message ${Math.max(...final.map((r) => r.attempts))}, 0 dead), ${stats.duplicates} redeliveries found received, ` +
        `${stats.delivered} delivered. Analytics: ${projected.length} projections for ${accounts.length} accounts, 0 lost, 0 duplicated.\n`,
    );
  }, 180_000);
});
