import { type CacheAdapter, EntityManager, MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { NodeSqliteDialect, type SqlEntityManager, SqliteDriver } from '@mikro-orm/sql';
import { tenantEntityManagerClass } from '../../src/isolation/tenant-entity-manager.js';
import type { ContextConfig } from '../../src/options/tenancy-options.js';
import { AnalyticsEvent } from '../fixtures/entities/analytics-event.entity.js';

/** One cache shared by every ORM of a test, as a Redis adapter configured in the tenant template would be. */
class SharedCache implements CacheAdapter {
  constructor(private readonly options: { store: Map<string, unknown> }) {}
  get<T>(name: string): T | undefined {
    return this.options.store.get(name) as T | undefined;
  }
  set(name: string, data: unknown): void {
    this.options.store.set(name, data);
  }
  remove(name: string): void {
    this.options.store.delete(name);
  }
  clear(): void {
    this.options.store.clear();
  }
}

/** Two "tenant databases" (in-memory SQLite) whose ORMs share one cache adapter, each with the tenant EM class. */
async function tenantOrm(tenantId: string, store: Map<string, unknown>): Promise<MikroORM> {
  const base = {
    driver: SqliteDriver,
    dbName: ':memory:',
    driverOptions: new NodeSqliteDialect(':memory:'),
    entities: [AnalyticsEvent],
    metadataProvider: ReflectMetadataProvider,
    resultCache: { adapter: SharedCache, options: { store } },
  };
  const config = base as ContextConfig;
  const orm = await MikroORM.init({ ...config, entityManager: tenantEntityManagerClass(config, () => `tenant:${tenantId}`) });
  await orm.schema.create();
  const em = orm.em.fork();
  em.create(AnalyticsEvent, { name: `event of ${tenantId}`, subject: tenantId });
  await em.flush();
  return orm;
}

describe('tenant EntityManager class', () => {
  // the two MikroORM internals it overrides: a MikroORM upgrade that renames or reshapes them must fail here
  it('relies on EntityManager#tryCache(entityName, config, key, refresh, merge) and #clearCache(key)', () => {
    expect(typeof EntityManager.prototype.tryCache).toBe('function');
    expect(EntityManager.prototype.tryCache.length).toBe(5);
    expect(typeof EntityManager.prototype.clearCache).toBe('function');
  });

  it("never serves one tenant's cached result to another through a shared cache adapter (named and computed keys)", async () => {
    const store = new Map<string, unknown>();
    const [a, b] = [await tenantOrm('a', store), await tenantOrm('b', store)];
    try {
      const read = async (orm: MikroORM, cache: true | [string, number]) =>
        (await orm.em.fork().find(AnalyticsEvent, {}, { cache })).map((e) => e.subject);
      expect(await read(a, ['events', 60_000])).toEqual(['a']);
      expect(await read(b, ['events', 60_000])).toEqual(['b']);
      expect(await read(a, true)).toEqual(['a']);
      expect(await read(b, true)).toEqual(['b']);
      const count = async (orm: MikroORM) => orm.em.fork().count(AnalyticsEvent, { subject: 'a' }, { cache: ['n', 60_000] });
      expect(await count(a)).toBe(1);
      expect(await count(b)).toBe(0);
      const qb = async (orm: MikroORM) =>
        ((await (orm.em.fork() as SqlEntityManager).createQueryBuilder(AnalyticsEvent).select('*').cache(['qb', 60_000]).getResultList()) as AnalyticsEvent[]).map((e) => e.subject);
      expect(await qb(a)).toEqual(['a']);
      expect(await qb(b)).toEqual(['b']);
      expect([...store.keys()].every((key) => key.includes('tenant:a') || key.includes('tenant:b'))).toBe(true);

      // cached rows are served (not re-read) for the same tenant, and clearCache clears that tenant's entry only
      await a.em.fork().nativeDelete(AnalyticsEvent, {});
      expect(await read(a, ['events', 60_000])).toEqual(['a']);
      await a.em.fork().clearCache('events');
      expect(await read(a, ['events', 60_000])).toEqual([]);
      expect(await read(b, ['events', 60_000])).toEqual(['b']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
