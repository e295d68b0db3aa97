/**
 * loadRelated (issue 19): rows of another context (the analytics database) loaded for a list of hub entities in one
 * query per chunk of keys, never one per entity. Queries are counted with the analytics context's own query log.
 */
import { MikroORM } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { InjectEntityManager, MikroTenancyModule, TenancyService, loadRelated } from '../../src/index.js';
import { analyticsPgConfig, primaryConfig } from '../fixtures/configs.js';
import { AnalyticsEvent } from '../fixtures/entities/analytics-event.entity.js';
import { User } from '../fixtures/entities/user.entity.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql } from '../support/test-databases.js';
import { Injectable } from '@nestjs/common';

const databases = new TestDatabases();
let primaryDb: string;
let analyticsDb: string;
let app: RunningApp;
const analyticsQueries: string[] = [];

@Injectable()
class Reports {
  constructor(
    readonly hub: EntityManager,
    @InjectEntityManager('analytics') readonly analytics: EntityManager,
  ) {}
}

beforeAll(async () => {
  primaryDb = await databases.create('lrprimary');
  analyticsDb = await databases.create('lranalytics');
  for (const config of [primaryConfig(primaryDb), analyticsPgConfig(analyticsDb)]) {
    const orm = await MikroORM.init(config);
    await orm.schema.create();
    await orm.close();
  }
  const emails = Array.from({ length: 100 }, (_, i) => `u${i}@example.com`);
  await sql(primaryDb, `insert into app_user (email) select unnest($1::text[])`, [emails]);
  // users 0-59 have i % 3 + 1 events; sentinels belong to no listed user
  const events = emails.slice(0, 60).flatMap((email, i) => Array.from({ length: (i % 3) + 1 }, (_, n) => [n === 0 ? 'login' : 'view', email]));
  events.push(['login', 'stranger@example.com'], ['view', 'U0@EXAMPLE.COM']);
  await sql(analyticsDb, `insert into analytics_event (name, subject) select * from unnest($1::text[], $2::text[])`, [events.map((e) => e[0]), events.map((e) => e[1])]);
  const analytics = { ...analyticsPgConfig(analyticsDb), debug: ['query' as const], logger: (message: string) => analyticsQueries.push(message) };
  app = await startApp({
    imports: [MikroTenancyModule.forRoot({ contexts: { default: primaryConfig(primaryDb), analytics } })],
    providers: [Reports],
  });
});

afterAll(async () => {
  await app?.close();
  await databases.dropAll();
});

/** Runs `fn` in a unit of work and returns what it returned and the analytics queries it sent. */
async function counted<R>(fn: (reports: Reports) => Promise<R>): Promise<{ result: R; queries: string[] }> {
  analyticsQueries.length = 0;
  const result = await app.app.get(TenancyService).run(() => fn(app.app.get(Reports)));
  return { result, queries: analyticsQueries.filter((line) => line.includes('from "analytics_event"')) };
}

describe('loadRelated: rows of another context for a list of entities', () => {
  it('loads the events of 100 hub users in one analytics query, grouped by user, none of anyone else', async () => {
    const { result, queries } = await counted(async ({ hub, analytics }) => {
      const users = await hub.find(User, {}, { orderBy: { id: 'asc' } });
      const events = await loadRelated(analytics, AnalyticsEvent, 'subject', users.map((u) => u.email), { orderBy: { id: 'asc' } });
      return users.map((u) => ({ email: u.email, events: events.get(u.email)?.map((e) => e.name) }));
    });
    expect(queries).toHaveLength(1);
    expect(result).toHaveLength(100);
    result.forEach(({ email, events }, i) => {
      const expected = i < 60 ? ['login', ...Array.from({ length: i % 3 }, () => 'view')] : [];
      expect({ email, events }).toEqual({ email, events: expected });
    });
  });

  it('takes one query per chunk of keys, narrows with where, and handles one key or none', async () => {
    const emails = Array.from({ length: 100 }, (_, i) => `u${i}@example.com`);
    const chunked = await counted(({ analytics }) => loadRelated(analytics, AnalyticsEvent, 'subject', emails, { chunkSize: 30, where: { name: 'login' } }));
    expect(chunked.queries).toHaveLength(4);
    expect([...chunked.result.values()].map((rows) => rows.length)).toEqual(emails.map((_, i) => (i < 60 ? 1 : 0)));

    const one = await counted(({ analytics }) => loadRelated(analytics, AnalyticsEvent, 'subject', ['u2@example.com', null, 'u2@example.com']));
    expect(one.queries).toHaveLength(1);
    expect([...one.result.keys()]).toEqual(['u2@example.com']);
    expect(one.result.get('u2@example.com')?.map((e) => e.name)).toEqual(['login', 'view', 'view']);

    const none = await counted(({ analytics }) => loadRelated(analytics, AnalyticsEvent, 'subject', []));
    expect(none.queries).toEqual([]);
    expect(none.result.size).toBe(0);
  });
});
