import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Injectable, Module } from '@nestjs/common';
import { MikroTenancyModule, type MikroTenancyModuleOptions, type MikroTenancyOptionsFactory } from '../../src/index.js';
import { analyticsPgConfig, analyticsSqliteConfig, primaryConfig } from '../fixtures/configs.js';
import { AnalyticsEvent } from '../fixtures/entities/analytics-event.entity.js';
import { User } from '../fixtures/entities/user.entity.js';
import { SignupController, SignupService } from '../fixtures/static-app.js';
import { PLATFORMS, type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, connectionsTo, sql } from '../support/test-databases.js';

const databases = new TestDatabases();
let primaryDb: string;
let analyticsDb: string;

beforeAll(async () => {
  primaryDb = await databases.create('primary');
  analyticsDb = await databases.create('analytics');
  for (const [config] of [[primaryConfig(primaryDb)], [analyticsPgConfig(analyticsDb)]] as const) {
    const orm = await MikroORM.init(config);
    await orm.schema.create();
    await orm.close();
  }
});
afterAll(() => databases.dropAll());

const featureModules = [MikroTenancyModule.forFeature([User]), MikroTenancyModule.forFeature([AnalyticsEvent], 'analytics')];

function syncApp(platform: (typeof PLATFORMS)[number]): Promise<RunningApp> {
  return startApp(
    {
      imports: [
        MikroTenancyModule.forRoot({ contexts: { default: primaryConfig(primaryDb), analytics: analyticsPgConfig(analyticsDb) } }),
        ...featureModules,
      ],
      controllers: [SignupController],
      providers: [SignupService],
    },
    platform,
  );
}

describe.each(PLATFORMS)('static named contexts over HTTP (%s)', (platform) => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await syncApp(platform);
  });
  afterAll(() => app?.close());

  it('writes each row to its own database and each table exists only in its own database', async () => {
    const email = `ada-${platform}@example.com`;
    const created = await app.request('/users', { method: 'POST', json: { email } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email });

    expect(await sql(primaryDb, 'select email from app_user where email = $1', [email])).toEqual([{ email }]);
    expect(await sql(analyticsDb, 'select name, subject from analytics_event where subject = $1', [email])).toEqual([{ name: 'signup', subject: email }]);

    const tables = async (db: string) =>
      (await sql<{ table_name: string }>(db, "select table_name from information_schema.tables where table_schema = 'public' order by 1")).map((r) => r.table_name);
    expect(await tables(primaryDb)).toEqual(['app_user']);
    expect(await tables(analyticsDb)).toEqual(['analytics_event']);
  });

  it('serves per-context repositories', async () => {
    const users = await app.request('/users');
    const events = await app.request('/events');
    expect(users.body.map((u: User) => u.email)).toContain(`ada-${platform}@example.com`);
    expect(events.body.map((e: AnalyticsEvent) => e.subject)).toContain(`ada-${platform}@example.com`);
    expect(events.body[0]).not.toHaveProperty('email');
  });

  it('gives two concurrent requests their own fork and identity map', async () => {
    const [{ id }] = await sql<{ id: number }>(primaryDb, "insert into app_user (email) values ('shared@example.com') returning id");
    const [a, b] = await Promise.all([app.request(`/users/${id}/touch/150`), app.request(`/users/${id}/touch/150`)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.forkId).not.toBe(b.body.forkId);
    // neither saw the other's unflushed in-memory change: no identity map is shared
    expect(a.body.email).toBe('shared@example.com');
    expect(b.body.email).toBe('shared@example.com');
    expect(a.body.sameForkAfterAwait).toBe(true);
    expect(b.body.sameForkAfterAwait).toBe(true);
  });
});

describe('injection and contexts outside HTTP', () => {
  let app: RunningApp;
  let service: SignupService;
  beforeAll(async () => {
    app = await syncApp('express');
    service = app.app.get(SignupService);
  });
  afterAll(() => app?.close());

  it('injects the default context by class, including the driver EntityManager', () => {
    expect(service.orm).toBe(app.app.get(MikroORM));
    expect(service.driverEm).toBe(service.orm.em);
    expect(service.analyticsOrm).not.toBe(service.orm);
    expect(service.analyticsOrm.config.get('dbName')).toBe(analyticsDb);
  });

  it('runs jobs with @CreateRequestContext and with TenancyService.run', async () => {
    const inDecorator = await service.countUsersInJob();
    const inRun = await service.tenancy.run(() => service.listUsers());
    expect(inDecorator).toBeGreaterThan(0);
    expect(inRun).toHaveLength(inDecorator);
  });

  it('refuses the global EntityManager outside any context (MikroORM’s own safety check)', async () => {
    await expect(service.listUsers()).rejects.toThrow(/global EntityManager/);
  });
});

describe('mixed drivers: PostgreSQL default + SQLite secondary', () => {
  it('writes the user to PostgreSQL and the event to SQLite', async () => {
    const sqlite = analyticsSqliteConfig();
    const app = await startApp({
      imports: [MikroTenancyModule.forRoot({ contexts: { default: primaryConfig(primaryDb), analytics: sqlite } }), ...featureModules],
      controllers: [SignupController],
      providers: [SignupService],
    });
    try {
      await app.app.get<MikroORM>('analytics_MikroORM').schema.create();
      const created = await app.request('/users', { method: 'POST', json: { email: 'sqlite@example.com' } });
      expect(created.status).toBe(201);
      const events = await app.request('/events');
      expect(events.body).toEqual([expect.objectContaining({ name: 'signup', subject: 'sqlite@example.com' })]);
      expect(await sql(analyticsDb, "select 1 from analytics_event where subject = 'sqlite@example.com'")).toEqual([]);
      expect(app.app.get<MikroORM>('analytics_MikroORM').config.getDriver().constructor.name).toBe('SqliteDriver');
    } finally {
      await app.close();
    }
  });
});

describe('forRootAsync', () => {
  @Injectable()
  class AppConfig {
    readonly primary = primaryDb;
    readonly analytics = analyticsDb;
  }
  @Module({ providers: [AppConfig], exports: [AppConfig] })
  class AppConfigModule {}

  @Injectable()
  class TenancyConfig implements MikroTenancyOptionsFactory {
    createMikroTenancyOptions(): MikroTenancyModuleOptions {
      return { contexts: { default: primaryConfig(primaryDb), analytics: analyticsPgConfig(analyticsDb) } };
    }
  }

  const variants = {
    useFactory: MikroTenancyModule.forRootAsync({
      imports: [AppConfigModule],
      inject: [AppConfig],
      contexts: ['default', 'analytics'],
      driver: PostgreSqlDriver,
      useFactory: (config: AppConfig) => ({ contexts: { default: primaryConfig(config.primary), analytics: analyticsPgConfig(config.analytics) } }),
    }),
    useClass: MikroTenancyModule.forRootAsync({ contexts: ['default', 'analytics'], driver: PostgreSqlDriver, useClass: TenancyConfig }),
  };

  it.each(Object.keys(variants) as (keyof typeof variants)[])('boots with %s and serves both databases over HTTP', async (variant) => {
    const app = await startApp({ imports: [variants[variant], ...featureModules], controllers: [SignupController], providers: [SignupService] });
    try {
      const email = `async-${variant}@example.com`;
      expect((await app.request('/users', { method: 'POST', json: { email } })).status).toBe(201);
      expect(await sql(analyticsDb, 'select subject from analytics_event where subject = $1', [email])).toEqual([{ subject: email }]);
    } finally {
      await app.close();
    }
  });
});

describe('shutdown', () => {
  it('leaves no connection of the app in pg_stat_activity after app.close()', async () => {
    const app = await syncApp('express');
    await app.request('/users', { method: 'POST', json: { email: 'closing@example.com' } });
    expect(await connectionsTo([primaryDb, analyticsDb])).toBeGreaterThan(0);
    await app.close();
    expect(await connectionsTo([primaryDb, analyticsDb])).toBe(0);
  });
});

describe('pool guards on static contexts', () => {
  const poolOptionsOf = async (options: Partial<MikroTenancyModuleOptions>) => {
    const app = await startApp({ imports: [MikroTenancyModule.forRoot({ contexts: { default: primaryConfig(primaryDb) }, ...options })] });
    try {
      const orm = app.app.get(MikroORM);
      // a real pool: the guards convert "database does not exist"-class errors and bound the wait for a connection
      const driverOptions = orm.config.get('driverOptions') as { connectionTimeoutMillis?: number; onPoolCreated?: unknown };
      return { timeout: driverOptions.connectionTimeoutMillis, hooked: typeof driverOptions.onPoolCreated === 'function' };
    } finally {
      await app.close();
    }
  };

  it('are on by default and can be turned off (the pool is then exactly as configured)', async () => {
    expect(await poolOptionsOf({})).toEqual({ timeout: 5_000, hooked: true });
    expect(await poolOptionsOf({ poolGuards: false })).toEqual({ timeout: undefined, hooked: false });
  });
});
