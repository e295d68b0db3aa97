import type { EntityManager, EntityName } from '@mikro-orm/core';
import { type EntityManagerClass, driverClassesOf } from '../options/driver-classes.js';
import type { ContextConfig } from '../options/tenancy-options.js';

/** The two result-cache methods of MikroORM's EntityManager this file extends (see tenantEntityManagerClass). */
type CacheConfig = boolean | number | [string, number] | undefined;
interface KyselyLike {
  withSchema(schema: string): unknown;
}

/**
 * The EntityManager class of a tenant ORM: the config's own (or the driver's) with two things scoped to the tenant,
 * which MikroORM leaves to the user:
 *
 * - `getKysely()`: Kysely ignores the fork's schema; here it gets `withSchema(schema)`, so every unqualified table
 *   of a Kysely query (joins included) is the tenant's.
 * - The result cache (`cache` on find/findOne/count/QueryBuilder): cache keys get the tenant's scope, named keys
 *   (`cache: ['key', ttl]`) included, so a result cached by one tenant is never served to another, even with one
 *   cache adapter (Redis...) shared by every tenant ORM.
 *
 * `tryCache` and `clearCache` are MikroORM internals (present in 7.x); test/unit/tenant-entity-manager.spec.ts
 * breaks if they change.
 */
export function tenantEntityManagerClass(
  config: ContextConfig,
  scopeOf: (em: EntityManager) => string | undefined,
  /** Table mode: Kysely outside a transaction would run without the tenant setting (see TableIsolation). */
  kyselyOutsideTransaction?: (em: EntityManager) => Error | undefined,
): EntityManagerClass {
  const Base = (config.entityManager as EntityManagerClass | undefined) ?? driverClassesOf(config).entityManager;
  class TenantEntityManager extends (Base as EntityManagerClass) {
    getKysely(options?: unknown): unknown {
      const refused = this.isInTransaction() ? undefined : kyselyOutsideTransaction?.(this);
      if (refused) throw refused;
      const kysely = (Base.prototype as unknown as { getKysely(options?: unknown): KyselyLike }).getKysely.call(this, options);
      const schema = this.schema;
      return schema ? kysely.withSchema(schema) : kysely;
    }

    // not async: a pass-through that adds no promise of its own to every find and count
    override tryCache<T extends object, R>(
      entityName: EntityName<T>,
      config: CacheConfig,
      key: unknown,
      refresh?: boolean,
      merge?: boolean,
    ): Promise<{ data?: R | null; key: string } | undefined> {
      const effective = config ?? this.config.get('resultCache').global;
      const scope = scopeOf(this);
      if (!effective || scope === undefined) return super.tryCache<T, R>(entityName, config, key, refresh, merge);
      if (Array.isArray(effective)) return super.tryCache<T, R>(entityName, [`${scope}|${effective[0]}`, effective[1]], key, refresh, merge);
      return super.tryCache<T, R>(entityName, effective, [scope, key], refresh, merge);
    }

    override clearCache(cacheKey: string): Promise<void> {
      const scope = scopeOf(this);
      return super.clearCache(scope === undefined ? cacheKey : `${scope}|${cacheKey}`);
    }
  }
  return TenantEntityManager;
}
