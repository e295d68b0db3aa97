/**
 * The outbox across contexts (issue 19), against PostgreSQL in both isolation modes: a tenant's write and its message
 * commit together in the tenant's schema or database; the relay delivers it into the analytics (or hub) context once
 * in effect; a redelivery is a no-op; failures back off and end dead; retry brings them back; health shows them.
 */
import { EntityManager } from '@mikro-orm/postgresql';
import { Controller, Get, Injectable, Module, type ModuleMetadata, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineConfig as defineCoreConfig } from '@mikro-orm/core';
import { NodeSqliteDialect, SqliteDriver } from '@mikro-orm/sql';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { MikroORM, defineConfig } from '@mikro-orm/postgresql';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import {
  MikroTenancyModule, Outbox, OutboxHandler, OutboxMessage, OutboxModule, OutboxSetupError, OutboxUsageError, TenancyService, type TenantIsolation,
  getEntityManagerToken,
} from '../../src/index.js';
import { TenancyHealthIndicator } from '../../src/health/index.js';
import { AccountsService, type OutboxSetup, outboxAppModule, outboxTenancyOptions } from '../fixtures/outbox/outbox-app.js';
import { clearFault, migrateAndCreate, outboxDatabases, outboxRows, setFault, tenantTable } from '../fixtures/outbox/setup.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, connectionOptions, sql } from '../support/test-databases.js';
import { pollUntil } from '../reliability/support/child-process.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tenancy: TenancyHealthIndicator,
  ) {}

  @Get('outbox')
  @HealthCheck()
  check(@Query('maxDead') maxDead?: string) {
    return this.health.check([() => this.tenancy.outbox(maxDead === undefined ? {} : { maxDead: Number(maxDead) })]);
  }
}

const projections = (setup: OutboxSetup) =>
  sql<{ tenant: string; account_id: number; email: string; message_id: string }>(setup.analyticsDb, 'select tenant, account_id, email, message_id from account_projection order by id');

describe.each<TenantIsolation>(['schema', 'database'])('Outbox (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  let setup: OutboxSetup;
  let app: RunningApp;
  let outbox: Outbox;
  let tenancy: TenancyService;
  let accounts: AccountsService;

  beforeAll(async () => {
    setup = { ...(await outboxDatabases(databases, isolation)), outbox: { relay: { enabled: false }, maxAttempts: 3, backoff: { initialMs: 0, maxMs: 0 } } };
    app = await startApp({ imports: [outboxAppModule(setup), TerminusModule], controllers: [HealthController], providers: [TenancyHealthIndicator] });
    await migrateAndCreate(app.app, ['acme', 'globex']);
    outbox = app.app.get(Outbox);
    tenancy = app.app.get(TenancyService);
    accounts = app.app.get(AccountsService);
  });
  afterEach(async () => {
    await sql(setup.analyticsDb, 'delete from outbox_fault');
  });
  afterAll(async () => {
    await app?.close();
    await databases.dropAll(setup.databasePrefix as string);
  });

  it('commits a write and its message together, and relayOnce delivers it once into analytics, in the sender tenant', async () => {
    const created = await app.request('/accounts', { method: 'POST', headers: { 'x-tenant-id': 'acme' }, json: { email: 'ann@acme.test' } });
    expect(created).toMatchObject({ status: 201, body: { email: 'ann@acme.test', marker: 'acme' } });
    const [pending] = await outboxRows(setup, 'acme');
    expect(pending).toMatchObject({ topic: 'account.created', destination: 'analytics', status: 'pending', attempts: 0 });
    expect(pending?.message_key).toBe(pending?.id); // no key given: the message's own id
    expect(await outboxRows(setup, 'globex')).toEqual([]);

    const report = await outbox.relayOnce();
    expect(report).toMatchObject({ delivered: 1, duplicates: 0, failed: 0, deferred: 0, errors: [] });
    expect(await projections(setup)).toEqual([{ tenant: 'acme', account_id: created.body.id, email: 'ann@acme.test', message_id: pending?.id }]);
    expect(await outboxRows(setup, 'acme')).toMatchObject([{ id: pending?.id, status: 'delivered', attempts: 1, last_error: null }]);
    expect(await sql(setup.analyticsDb, 'select source, topic, message_key from mikro_tenancy_outbox_receipt')).toEqual([{ source: 'tenant:acme', topic: 'account.created', message_key: pending?.id }]);

    expect(await outbox.relayOnce()).toMatchObject({ delivered: 0, duplicates: 0 });
    expect(await projections(setup)).toHaveLength(1);
  });

  it('leaves no message when the sender transaction rolls back', async () => {
    const before = (await outboxRows(setup, 'acme')).length;
    await expect(tenancy.run('acme', () => accounts.create('rolled@acme.test', { failAfterAdd: true }))).rejects.toThrow('the business write failed after the message was added');
    expect(await outboxRows(setup, 'acme')).toHaveLength(before);
    const { db, table } = tenantTable(setup, 'acme', 'account');
    expect(await sql(db, `select 1 from ${table} where email = 'rolled@acme.test'`)).toEqual([]);
  });

  it('makes a redelivery a no-op: a message whose sender never marked it delivered is found received', async () => {
    const [first] = await outboxRows(setup, 'acme');
    // what a crash between the receiver's commit and the sender's mark leaves behind
    const { db, table } = tenantTable(setup, 'acme', 'mikro_tenancy_outbox');
    await sql(db, `update ${table} set status = 'pending' where id = $1`, [first?.id]);
    expect(await outbox.relayOnce()).toMatchObject({ delivered: 0, duplicates: 1, failed: 0 });
    expect((await projections(setup)).filter((p) => p.message_id === first?.id)).toHaveLength(1);
    expect((await outboxRows(setup, 'acme'))[0]).toMatchObject({ id: first?.id, status: 'delivered', attempts: 2 });
  });

  it('applies one key once per sender and topic; the same key from another tenant is its own', async () => {
    const add = (tenantId: string) =>
      tenancy.run(tenantId, ({ em }) => em.transactional(async (tx) => void outbox.add(tx, { to: 'analytics', topic: 'account.created', key: 'signup-42', payload: { accountId: 42, email: `k@${tenantId}.test` } })));
    await add('acme');
    await add('acme'); // a retried request that had committed after all
    await add('globex');
    expect(await outbox.relayOnce()).toMatchObject({ delivered: 2, duplicates: 1, failed: 0 });
    expect((await projections(setup)).filter((p) => p.account_id === 42).map((p) => p.tenant).sort()).toEqual(['acme', 'globex']);
  });

  it('delivers to the hub, where the injected hub EntityManager is the delivery transaction, and from the hub itself', async () => {
    await tenancy.run('globex', () => accounts.create('audited@globex.test', { audit: true }));
    const hub = app.app.get<EntityManager>(getEntityManagerToken('hub'));
    await tenancy.run(() => hub.transactional(async (em) => void outbox.add(em, { to: 'analytics', topic: 'account.created', payload: { accountId: 7, email: 'from@hub.test' } })));
    expect(await outbox.relayOnce()).toMatchObject({ delivered: 3, failed: 0, errors: [] });
    expect(await sql(setup.hubDb, 'select tenant, action from audit_entry')).toEqual([{ tenant: 'globex', action: 'created audited@globex.test' }]);
    expect((await projections(setup)).filter((p) => p.tenant === 'hub')).toMatchObject([{ account_id: 7, email: 'from@hub.test' }]);
    expect(await sql(setup.hubDb, 'select status from mikro_tenancy_outbox')).toEqual([{ status: 'delivered' }]);
  });

  it('refuses, naming the fix, what could never be delivered', async () => {
    const analytics = app.app.get<EntityManager>(getEntityManagerToken('analytics'));
    await tenancy.run(() => {
      expect(() => outbox.add(analytics, { to: 'hub', topic: 'account.audited', payload: {} })).toThrow(OutboxSetupError);
      expect(() => outbox.add(analytics, { to: 'hub', topic: 'account.audited', payload: {} })).toThrow(
        "context 'analytics' cannot send outbox messages: its entities do not include OutboxMessage. Add OutboxMessage (from nestjs-mikro-tenancy) " +
          "to the entities of 'analytics', then generate and apply a migration (`mikro-tenancy migrate create --context analytics`, `mikro-tenancy migrate up`).",
      );
    });
    const hub = app.app.get<EntityManager>(getEntityManagerToken('hub'));
    await tenancy.run(() => {
      expect(() => outbox.add(hub, { to: 'hub', topic: 'account.audited', payload: {} })).toThrow("the message would stay in context 'hub': write what its handler writes in the same transaction instead");
    });
    await tenancy.run('acme', ({ em }) => {
      expect(() => outbox.add(em, { to: 'nowhere', topic: 'account.created', payload: {} })).toThrow("'nowhere' is not a static context (static contexts: hub, analytics)");
      expect(() => outbox.add(em, { to: 'tenant', topic: 'account.created', payload: {} })).toThrow('the tenant context cannot receive them');
      expect(() => outbox.add(em, { to: 'analytics', topic: 'account.deleted', payload: {} })).toThrow(
        "no @OutboxHandler takes topic 'account.deleted' in context 'analytics'. Add a provider method with @OutboxHandler('account.deleted')",
      );
      expect(() => outbox.add(em, { to: 'hub', topic: 'account.created', payload: {} })).not.toThrow(); // the handler without a context takes any destination
      em.clear(); // not flushed: nothing of this is written
      expect(() => outbox.add(em, { to: 'analytics', topic: '', payload: {} })).toThrow(OutboxUsageError);
      expect(() => outbox.add(em, { to: 'analytics', topic: 'account.created', key: 'k'.repeat(256), payload: {} })).toThrow('the key must be a non-empty string of at most 255 characters');
    });
    const foreign = await MikroORM.init(defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(setup.hubDb), entities: [OutboxMessage], contextName: 'foreign' }));
    try {
      expect(() => outbox.add(foreign.em.fork(), { to: 'analytics', topic: 'account.created', payload: {} })).toThrow('this EntityManager belongs to no context of MikroTenancyModule');
    } finally {
      await foreign.close();
    }
    await expect(outbox.retry('not-a-uuid')).rejects.toThrow("Outbox.retry: 'not-a-uuid' is not a message id (a UUID");
  });

  it('backs off failed deliveries, ends them dead after maxAttempts, shows them in status and health, and retries them', async () => {
    await setFault(setup, 'account.created', 'bad deploy');
    const account = await tenancy.run('globex', () => accounts.create('dead@globex.test'));
    const id = (await outboxRows(setup, 'globex')).at(-1)?.id as string;
    const reports = [await outbox.relayOnce(), await outbox.relayOnce(), await outbox.relayOnce()];
    expect(reports.map((r) => [r.failed, r.deadLettered])).toEqual([[1, 0], [1, 0], [1, 1]]);
    expect((await outboxRows(setup, 'globex')).at(-1)).toMatchObject({ id, status: 'dead', attempts: 3, last_error: 'the receiver is failing on purpose: bad deploy' });
    expect(await outbox.relayOnce()).toMatchObject({ failed: 0, delivered: 0 }); // dead messages are left alone

    const status = await outbox.status();
    expect(status.ok).toBe(false);
    expect(status.totals.dead).toBe(1);
    const globex = status.sources.find((s) => s.source === 'tenant:globex');
    expect(globex?.deadMessages).toEqual([expect.objectContaining({ id, topic: 'account.created', to: 'analytics', attempts: 3, lastError: 'the receiver is failing on purpose: bad deploy' })]);
    expect(status.sources.map((s) => s.source)).toEqual(['context:hub', 'tenant:acme', 'tenant:globex']);

    const shown = await app.request('/health/outbox');
    expect(shown.status).toBe(200); // dead messages are shown, not a failed check, unless asked
    expect(shown.body.info.outbox).toMatchObject({ status: 'up', relay: 'stopped', dead: 1, deadIn: ['tenant:globex'] });
    const strict = await app.request('/health/outbox?maxDead=0');
    expect(strict.status).toBe(503);
    expect(strict.body.error.outbox).toMatchObject({ status: 'down', dead: 1, message: '1 dead message(s), more than 0' });

    await clearFault(setup, 'account.created');
    expect(await outbox.retry(id)).toEqual({ retried: [{ source: 'tenant:globex', id }], errors: [] });
    expect(await outbox.retry(id)).toEqual({ retried: [{ source: 'tenant:globex', id }], errors: [] }); // still pending: made due again
    expect(await outbox.relayOnce()).toMatchObject({ delivered: 1, failed: 0 });
    expect((await projections(setup)).filter((p) => p.account_id === account.id && p.tenant === 'globex')).toHaveLength(1);
    expect(await outbox.retry(id)).toEqual({ retried: [], errors: [] }); // delivered messages are never retried
    expect((await app.request('/health/outbox?maxDead=0')).status).toBe(200);
  });

  it('retries every dead message with { dead: true }', async () => {
    await setFault(setup, 'account.created', 'second bad deploy');
    await tenancy.run('acme', () => accounts.create('d1@acme.test'));
    await tenancy.run('globex', () => accounts.create('d2@globex.test'));
    for (let i = 0; i < 3; i++) await outbox.relayOnce({ tenants: 'all' });
    expect((await outbox.status()).totals.dead).toBe(2);
    await clearFault(setup, 'account.created');
    const retried = await outbox.retry({ dead: true });
    expect(retried.retried.map((r) => r.source).sort()).toEqual(['tenant:acme', 'tenant:globex']);
    expect(await outbox.relayOnce({ tenants: ['acme', 'globex'] })).toMatchObject({ delivered: 2, sources: 2 });
    expect((await outbox.status()).totals).toMatchObject({ pending: 0, dead: 0 });
  });

  it('never delivers a message twice from concurrent relays (skip locked), in two app instances', async () => {
    const second = await startApp({ imports: [outboxAppModule(setup)] });
    try {
      for (let i = 0; i < 30; i++) await tenancy.run(i % 2 ? 'acme' : 'globex', () => accounts.create(`c${i}@load.test`));
      const otherOutbox = second.app.get(Outbox);
      const reports = await Promise.all([outbox.relayOnce(), otherOutbox.relayOnce(), outbox.relayOnce(), otherOutbox.relayOnce()]);
      const sum = (key: 'delivered' | 'duplicates' | 'failed') => reports.reduce((n, r) => n + r[key], 0);
      // a message claimed by one relay is skipped by the others, so not even a duplicate attempt happens
      expect({ delivered: sum('delivered'), duplicates: sum('duplicates'), failed: sum('failed') }).toEqual({ delivered: 30, duplicates: 0, failed: 0 });
      const rows = await sql<{ n: string; keys: string }>(setup.analyticsDb, "select count(*)::text as n, count(distinct message_id)::text as keys from account_projection where email like '%@load.test'");
      expect(rows).toEqual([{ n: '30', keys: '30' }]);
    } finally {
      await second.close();
    }
  });

  it('skips the messages another relay holds instead of waiting for them (for update skip locked)', async () => {
    const second = await startApp({ imports: [outboxAppModule(setup)] });
    process.env.OUTBOX_HANDLER_SLEEP_MS = '200'; // each delivery sleeps inside the receiving transaction
    try {
      for (let i = 0; i < 3; i++) await tenancy.run('acme', () => accounts.create(`held${i}@acme.test`));
      let firstDone = false;
      const first = outbox.relayOnce({ tenants: ['acme'] }).finally(() => (firstDone = true));
      const sleeping = async () => (await sql(setup.analyticsDb, "select 1 from pg_stat_activity where datname = current_database() and query like 'select pg_sleep%'")).length > 0;
      expect(await pollUntil(sleeping, 10_000, 5)).toBe(true);
      // the first relay holds all three (its sender transaction is open until it has recorded them): nothing to claim
      const meanwhile = await second.app.get(Outbox).relayOnce({ tenants: ['acme'] });
      expect({ firstDone, delivered: meanwhile.delivered, duplicates: meanwhile.duplicates }).toEqual({ firstDone: false, delivered: 0, duplicates: 0 });
      expect(await first).toMatchObject({ delivered: 3, duplicates: 0 });
    } finally {
      delete process.env.OUTBOX_HANDLER_SLEEP_MS;
      await second.close();
    }
  });

  it('checks tenant ids named by the caller before relaying any', async () => {
    await expect(outbox.relayOnce({ tenants: ['acme', 'Bad Id'] })).rejects.toThrow('Invalid tenant id');
    await expect(outbox.status({ contexts: ['analytics'] })).rejects.toThrow("'analytics': not a static context with an outbox (those are: hub;");
  });

  it('relays in the background once started: a message added by a request reaches analytics without a call', async () => {
    const background = await startApp({ imports: [outboxAppModule({ ...setup, outbox: { relay: { intervalMs: 20, sweepIntervalMs: 60_000 } } })] });
    try {
      const created = await background.request('/accounts', { method: 'POST', headers: { 'x-tenant-id': 'globex' }, json: { email: 'bg@globex.test' } });
      expect(created.status).toBe(201);
      // the first pass is a sweep, later ones look at the tenants this process added messages for
      expect(await pollUntil(async () => (await projections(setup)).some((p) => p.email === 'bg@globex.test'), 10_000, 20)).toBe(true);
      expect(background.app.get(Outbox).relay.running).toBe(true);
    } finally {
      await background.close();
    }
    expect(background.app.get(Outbox).relay.running).toBe(false); // stopped before the ORMs closed
  });
});

describe('OutboxModule boot checks', () => {
  const databases = new TestDatabases();
  let setup: OutboxSetup;
  beforeAll(async () => {
    setup = await outboxDatabases(databases, 'schema');
  });
  afterAll(() => databases.dropAll());

  @Injectable()
  class SecondProjector {
    @OutboxHandler('account.created')
    project(): void {}
  }

  @Injectable()
  class UnknownContextHandler {
    @OutboxHandler('account.archived', { context: 'archive' })
    archive(): void {}
  }

  const boot = async (metadata: ModuleMetadata) => {
    @Module(metadata)
    class BootModule {}
    const app = await NestFactory.createApplicationContext(BootModule, { logger: false, abortOnError: false });
    await app.close();
  };

  it('refuses two handlers of one topic, and a handler for a context that does not exist, listing both', async () => {
    const error = (await boot({ imports: [outboxAppModule(setup)], providers: [SecondProjector, UnknownContextHandler] }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(OutboxSetupError);
    const [title, ...problems] = error.message.split('\n');
    expect(title).toBe('Outbox handlers cannot be registered:');
    // one line per problem, in the order Nest lists the providers
    expect(problems.sort()).toEqual([
      expect.stringMatching(/^ {2}- (AccountProjector|SecondProjector)\.project and (AccountProjector|SecondProjector)\.project both handle topic 'account\.created': keep one, or give each its own \{ context \}$/),
      "  - UnknownContextHandler.archive: context 'archive' is not a static context of MikroTenancyModule (static contexts: hub, analytics)",
    ]);
  });

  it('refuses a sender that is not PostgreSQL (the relay claims with for update skip locked)', async () => {
    const options = outboxTenancyOptions(setup);
    const sqlite = defineCoreConfig({ metadataProvider: ReflectMetadataProvider, driver: SqliteDriver, dbName: ':memory:', driverOptions: new NodeSqliteDialect(':memory:'), entities: [OutboxMessage] });
    await expect(boot({ imports: [MikroTenancyModule.forRoot({ ...options, contexts: { ...options.contexts, local: sqlite } }), OutboxModule.forRoot()] })).rejects.toThrow(
      "context 'local': OutboxMessage is among its entities, but only PostgreSQL contexts can send",
    );
  });

  it('reports every invalid option at once', () => {
    expect(() => OutboxModule.forRoot({ maxAttempts: 0, relay: { batchSize: 1.5 }, backoff: { initialMs: 10, maxMs: 5 } })).toThrow(
      'Invalid OutboxModule options:\n  - relay.batchSize must be a whole number >= 1, got 1.5\n  - maxAttempts must be a whole number >= 1, got 0\n  - backoff.maxMs (5) is below backoff.initialMs (10)',
    );
  });
});
