/**
 * `mikro-tenancy outbox status|retry|relay` in a child process (schema mode), against an app whose relay is enabled
 * with a 1 ms interval: the CLI must never relay by itself, only on `outbox relay`.
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Outbox, TenancyService } from '../../src/index.js';
import { AccountsService, type OutboxSetup, outboxAppModule } from '../fixtures/outbox/outbox-app.js';
import { clearFault, migrateAndCreate, outboxDatabases, outboxRows, setFault } from '../fixtures/outbox/setup.js';
import { runCli } from '../support/cli.js';
import { TestDatabases } from '../support/test-databases.js';

const MODULE = 'test/fixtures/outbox/cli-app.module.ts';
const databases = new TestDatabases();
let setup: OutboxSetup;
let app: INestApplicationContext;

const cli = (...args: string[]) =>
  runCli([...args, '--module', MODULE], {
    OUTBOX_HUB_DB: setup.hubDb,
    OUTBOX_ANALYTICS_DB: setup.analyticsDb,
    OUTBOX_ISOLATION: 'schema',
    OUTBOX_OPTIONS: JSON.stringify({ relay: { intervalMs: 1, sweepIntervalMs: 1 }, maxAttempts: 2, backoff: { initialMs: 0, maxMs: 0 } }),
  });

beforeAll(async () => {
  setup = { ...(await outboxDatabases(databases, 'schema')), outbox: { relay: { enabled: false }, maxAttempts: 2, backoff: { initialMs: 0, maxMs: 0 } } };
  app = await NestFactory.createApplicationContext(outboxAppModule(setup), { logger: ['error'] });
  await migrateAndCreate(app, ['acme', 'globex']);
});
afterAll(async () => {
  await app?.close();
  await databases.dropAll();
});

describe('mikro-tenancy outbox (child process)', () => {
  it('shows pending messages and never relays them by itself, even with the app relay enabled', async () => {
    const tenancy = app.get(TenancyService);
    const accounts = app.get(AccountsService);
    await tenancy.run('acme', () => accounts.create('one@acme.test'));
    await tenancy.run('globex', () => accounts.create('two@globex.test'));

    const status = await cli('outbox', 'status');
    expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
    expect(status.stdout).toMatch(/^context:hub: 0 pending, 0 dead, 0 delivered$/m);
    expect(status.stdout).toMatch(/^tenant:acme: 1 pending \(oldest since \d{4}-\d\d-\d\dT[\d:.]+Z\), 0 dead, 0 delivered$/m);
    expect(status.stdout).toMatch(/^Total: 2 pending, 0 dead, 0 delivered$/m);
    expect([...(await outboxRows(setup, 'acme')), ...(await outboxRows(setup, 'globex'))].map((r) => [r.status, r.attempts])).toEqual([['pending', 0], ['pending', 0]]);
  });

  it('lists dead messages (exit 1), retries one or every dead one, and relays on demand', async () => {
    await setFault(setup, 'account.created', 'cli');
    const outbox = app.get(Outbox);
    await outbox.relayOnce();
    expect(await outbox.relayOnce()).toMatchObject({ deadLettered: 2 });
    const [acme] = await outboxRows(setup, 'acme');
    const [globex] = await outboxRows(setup, 'globex');

    const status = await cli('outbox', 'status');
    expect(status.code).toBe(1);
    expect(status.stdout).toContain(`tenant:acme: 0 pending, 1 dead, 0 delivered\n  DEAD ${acme?.id} account.created -> analytics, 2 attempts: the receiver is failing on purpose: cli\n`);
    expect(status.stdout).toMatch(/^Total: 0 pending, 2 dead, 0 delivered$/m);

    const notAnId = await cli('outbox', 'retry', 'nope');
    expect(notAnId.code).toBe(2);
    expect(notAnId.stderr).toContain("outbox retry: 'nope' is not a message id (a UUID, as outbox status shows it)");
    const unknown = await cli('outbox', 'retry', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('Nothing to retry: no pending or dead message 00000000-0000-4000-8000-000000000000 (a mistyped id, or delivered already)');

    await clearFault(setup, 'account.created');
    const retried = await cli('outbox', 'retry', '--dead', '--tenant', 'acme');
    expect({ code: retried.code, stdout: retried.stdout, stderr: retried.stderr }).toEqual({ code: 0, stdout: `Retrying ${acme?.id} (tenant:acme)\n`, stderr: '' });
    const relayed = await cli('outbox', 'relay', '--json');
    expect(relayed.code).toBe(0);
    expect(JSON.parse(relayed.stdout)).toMatchObject({ sources: 3, delivered: 1, failed: 0, errors: [] });
    expect((await outboxRows(setup, 'globex'))[0]).toMatchObject({ status: 'dead' }); // --tenant acme left it

    expect((await cli('outbox', 'retry', globex?.id as string)).stdout).toBe(`Retrying ${globex?.id} (tenant:globex)\n`);
    const relayedText = await cli('outbox', 'relay');
    expect(relayedText.stdout).toBe('Relayed 3 source(s): 1 delivered, 0 already received, 0 failed (0 now dead), 0 deferred (receiver unavailable)\n');
    const done = await cli('outbox', 'status', '--json');
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ ok: true, totals: { pending: 0, dead: 0, delivered: 2 } });
  }, 120_000);

  it('says so when the app does not import OutboxModule', async () => {
    const run = await runCli(['outbox', 'status', '--module', 'test/fixtures/cli-app.module.ts'], { CLI_HUB_DB: setup.hubDb, CLI_ISOLATION: 'schema' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('the app does not import OutboxModule: add OutboxModule.forRoot() next to MikroTenancyModule.forRoot');
  });
});
