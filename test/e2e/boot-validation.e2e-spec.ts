import { jest } from '@jest/globals';
import { EntityManager, MikroORM } from '@mikro-orm/core';
import { Controller, Get, Injectable, Logger } from '@nestjs/common';
import { InjectRepository, InvalidTenancyOptionsError, MikroTenancyModule } from '../../src/index.js';
import { TenancyRuntime } from '../../src/runtime/tenancy-runtime.js';
import { analyticsPgConfig, primaryConfig } from '../fixtures/configs.js';
import { AnalyticsEvent } from '../fixtures/entities/analytics-event.entity.js';
import { User } from '../fixtures/entities/user.entity.js';
import { startApp } from '../support/http-app.js';
import { TestDatabases, connectionsTo } from '../support/test-databases.js';

const databases = new TestDatabases();
let primaryDb: string;
let analyticsDb: string;

beforeAll(async () => {
  primaryDb = await databases.create('bootp');
  analyticsDb = await databases.create('boota');
  for (const config of [primaryConfig(primaryDb), analyticsPgConfig(analyticsDb)]) {
    const orm = await MikroORM.init(config);
    await orm.schema.create();
    await orm.close();
  }
});
afterAll(() => databases.dropAll());

describe('boot-time validation', () => {
  it('reports every option problem at once, each naming its context', async () => {
    const noDriver = { dbName: 'x', entities: [User] };
    await expect(
      startApp({
        imports: [
          MikroTenancyModule.forRoot({
            contexts: { default: noDriver, analytics: { ...analyticsPgConfig(analyticsDb), dbName: undefined, entities: [] } },
          }),
        ],
      }),
    ).rejects.toThrow(
      new InvalidTenancyOptionsError([
        "context 'default': no driver; use defineConfig from your driver package (e.g. @mikro-orm/postgresql) or set 'driver'",
        "context 'analytics': no connection settings; set 'dbName' or 'clientUrl'",
        "context 'analytics': no entities; list them in 'entities'",
      ]).message,
    );
  });

  it('names forFeature on an unknown context', async () => {
    await expect(
      startApp({ imports: [MikroTenancyModule.forRoot({ contexts: { default: primaryConfig(primaryDb) } }), MikroTenancyModule.forFeature([AnalyticsEvent], 'analytics')] }),
    ).rejects.toThrow(
      "MikroTenancyModule.forFeature([AnalyticsEvent]) asks for context 'analytics', which is not registered. Registered contexts: 'default'. " +
        'Add it to MikroTenancyModule.forRoot({ contexts }) or fix the name.',
    );
    expect(await connectionsTo([primaryDb])).toBe(0);
  });

  it("fails at boot, naming the class, when one injects EntityManager by class and there is no 'default' context", async () => {
    @Injectable()
    class NeedsDefault {
      constructor(readonly em: EntityManager) {}
    }
    await expect(
      startApp({ imports: [MikroTenancyModule.forRoot({ contexts: { analytics: analyticsPgConfig(analyticsDb) } })], providers: [NeedsDefault] }),
    ).rejects.toThrow(/can't resolve dependencies of the NeedsDefault \(\?\)[\s\S]*EntityManager at index \[0\]/);
    expect(await connectionsTo([analyticsDb])).toBe(0);
  });
});

describe('two apps in one process', () => {
  @Controller()
  class CountController {
    constructor(@InjectRepository(User) private readonly users: import('@mikro-orm/core').EntityRepository<User>) {}
    @Get('count')
    count() {
      return this.users.count();
    }
  }

  it('use the same context names without clashing', async () => {
    const appOf = (db: string) =>
      startApp({ imports: [MikroTenancyModule.forRoot({ contexts: { default: primaryConfig(db) } }), MikroTenancyModule.forFeature([User])], controllers: [CountController] });
    const [a, b] = await Promise.all([appOf(primaryDb), appOf(analyticsDb === primaryDb ? primaryDb : primaryDb)]);
    try {
      expect((await a.request('/count')).status).toBe(200);
      expect((await b.request('/count')).status).toBe(200);
      expect(a.app.get(MikroORM)).not.toBe(b.app.get(MikroORM));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('shutdown with a failing close', () => {
  it('logs the failure and still closes the other contexts', async () => {
    const app = await startApp({ imports: [MikroTenancyModule.forRoot({ contexts: { default: primaryConfig(primaryDb), analytics: analyticsPgConfig(analyticsDb) } })] });
    const runtime = app.app.get(TenancyRuntime);
    await runtime.orm('analytics').em.fork().count(AnalyticsEvent);
    await runtime.orm('default').em.fork().count(User);
    const failing = runtime.orm('default');
    const realClose = failing.close.bind(failing);
    // the one stand-in here: a close that fails, which a healthy PostgreSQL never produces on demand
    failing.close = async () => {
      await realClose();
      throw new Error('simulated close failure');
    };
    const errors: string[] = [];
    const spy = jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => void errors.push(String(message)));
    try {
      await app.close();
    } finally {
      spy.mockRestore();
    }
    expect(errors).toContain("Closing context 'default' failed: Error: simulated close failure");
    expect(await connectionsTo([primaryDb, analyticsDb])).toBe(0);
  });
});
