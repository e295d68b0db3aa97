import type { MikroORM, MigrationInfo } from '@mikro-orm/core';
import type { ContextConfig } from '../module/tenancy-options.js';
import { tenantOrmOptions } from '../isolation/tenant-isolation.js';
import type { MigrationDirection } from './migration-report.js';

/**
 * Options of an ORM that runs tenant migrations: a small pool of its own, every tenant's migrations in one
 * transaction (so a failure leaves the tenant as it was), and no snapshot rewrite after migrating (the snapshot
 * describes the unqualified tenant schema; rewriting it from one tenant's database would break the next
 * `migrate create`). `includeWildcardSchema` only defers creating the tracking table until the target schema is
 * known, so no stray `mikro_orm_migrations` appears in the default schema.
 */
export function migrationOrmOptions(base: ContextConfig, name: string): ContextConfig {
  return tenantOrmOptions(base, name, {
    pool: { ...base.pool, min: 0, max: 2 },
    migrations: {
      ...base.migrations,
      transactional: true,
      allOrNothing: true,
      snapshotOnMigrate: false,
      includeWildcardSchema: true,
      silent: true,
    },
  });
}

export interface TenantMigrationTarget {
  /** Key of the advisory lock: the same for every runner that migrates this tenant, in any process. */
  lockKey: string;
  /** Schema mode: the tenant's schema (created when missing, when migrating up). */
  schema?: string;
  /** Describes the tenant for error messages. */
  label: string;
  to?: string | number;
}

/**
 * Applies (or reverts) the pending tenant migrations of one tenant inside a single transaction that first takes a
 * PostgreSQL advisory lock, so two runners never migrate one tenant at once: the second waits, then finds nothing
 * pending. Returns the names of the migrations it ran.
 */
export async function migrateTenant(orm: MikroORM, direction: MigrationDirection, target: TenantMigrationTarget): Promise<string[]> {
  const connection = orm.em.getConnection();
  const migrator = orm.migrator;
  let current: string | undefined;
  const track = (event: MigrationInfo) => void (current = event.name);
  migrator.on(direction === 'up' ? 'migrating' : 'reverting', track);
  try {
    const ran = await connection.transactional(async (trx) => {
      await connection.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [target.lockKey], 'all', trx);
      if (target.schema && direction === 'up') {
        await connection.execute(`create schema if not exists ${orm.em.getPlatform().quoteIdentifier(target.schema)}`, [], 'run', trx);
      }
      const options = { schema: target.schema, transaction: trx };
      return direction === 'up' ? migrator.up({ ...options, to: target.to }) : migrator.down({ ...options, to: target.to });
    });
    return ran.map((migration) => migration.name);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const where = current ? `migration '${current}' failed` : 'migrating failed';
    const outcome = direction === 'up' ? 'nothing of it was applied' : 'nothing was reverted';
    throw new Error(`${where} for ${target.label}, ${outcome}: ${message}`, { cause: error });
  } finally {
    migrator.off(direction === 'up' ? 'migrating' : 'reverting', track);
  }
}
