import type { MikroORM, MigrationInfo, Transaction } from '@mikro-orm/core';
import type { ContextConfig } from '../options/tenancy-options.js';
import { tenantOrmOptions } from '../isolation/tenant-isolation.js';
import type { MigrationDirection } from './migration-report.js';
import { TenantConnectionMismatchError, TenantStorageConflictError } from '../errors/isolation.errors.js';
import { DATABASE_OWNER_SQL, SCHEMA_OWNER_SQL, ownerFromComment, ownerMark } from '../isolation/storage-owner.js';
import { messageOf } from '../errors/message-of.js';
import { TenantMigrationError, TenantMovingMigrationError } from '../errors/lifecycle.errors.js';

/**
 * Options of an ORM that runs tenant migrations: a pool of one connection, every tenant's migrations in one
 * transaction (so a failure leaves the tenant as it was), and no snapshot rewrite after migrating (the snapshot
 * describes the unqualified tenant schema; rewriting it from one tenant's database would break the next
 * `migrate create`). `includeWildcardSchema` only defers creating the tracking table until the target schema is
 * known, so no stray `mikro_orm_migrations` appears in the default schema.
 *
 * One connection, because a migration worker must never need a second server connection while its transaction
 * holds one: behind a transaction-mode pooler (PgBouncer) whose pool is smaller than the fan-out's concurrency,
 * every worker would hold a server connection and wait for another, and nothing would move. With `max: 1`, anything
 * that asked for a second connection would wait on this pool (bounded by the pool guards, then an error naming the
 * timeout) instead of on the pooler, forever.
 */
export function migrationOrmOptions(base: ContextConfig, name: string): ContextConfig {
  return tenantOrmOptions(base, name, {
    pool: { ...base.pool, min: 0, max: 1 },
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
  tenantId: string;
  /** Key of the advisory lock: the same for every runner that migrates this tenant, in any process. */
  lockKey: string;
  /** Database mode: the tenant's database (checked to be the connection's, then marked as the tenant's). */
  database?: string;
  /** Schema mode: the tenant's schema (created when missing, when migrating up). */
  schema?: string;
  /** Table mode: the tables every tenant shares (nothing to claim: they are no tenant's own). */
  shared?: boolean;
  /**
   * Migrating up: statements run in the migration transaction before the migrations (what they rely on, such as
   * mixed tiers' per-schema functions) and after them. Each must be idempotent: a rerun runs them again.
   */
  before?: readonly string[];
  after?: readonly string[];
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
    await initMigrator(orm); // before the transaction: its checks take a connection of their own (see initMigrator)
    const ran = await connection.transactional(async (trx) => {
      await connection.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [target.lockKey], 'all', trx);
      // database mode: a tenant's tables are in its database's public schema, which is what a move copies
      const moving = await isMoving(orm, target.schema ?? 'public', trx);
      if (target.schema && direction === 'up') {
        await connection.execute(`create schema if not exists ${orm.em.getPlatform().quoteIdentifier(target.schema)}`, [], 'run', trx);
      }
      await claimStorage(orm, target, direction, trx);
      const options = { schema: target.schema, transaction: trx };
      // while a move publishes these tables, nothing may change them: what ran is rolled back (nothing pending: no error)
      const unlessMoving = <M>(ran: M[]) => {
        if (moving && ran.length) throw new TenantMovingMigrationError(target.schema ?? 'public');
        return ran;
      };
      if (direction === 'down') return unlessMoving(await migrator.down({ ...options, to: target.to }));
      for (const statement of target.before ?? []) await connection.execute(statement, [], 'run', trx);
      const applied = unlessMoving(await migrator.up({ ...options, to: target.to }));
      for (const statement of target.after ?? []) await connection.execute(statement, [], 'run', trx);
      return applied;
    });
    return ran.map((migration) => migration.name);
  } catch (error) {
    const message = messageOf(error);
    const where = current ? `migration '${current}' failed` : 'migrating failed';
    const outcome = direction === 'up' ? 'nothing of it was applied' : 'nothing was reverted';
    throw new TenantMigrationError(target.tenantId, `${where} for ${target.label}, ${outcome}: ${message}`, error);
  } finally {
    migrator.off(direction === 'up' ? 'migrating' : 'reverting', track);
  }
}

/**
 * Runs the migrator's lazy initialisation now, outside any transaction. MikroORM's `Migrator.init()` (protected, not
 * on the IMigrator type) runs on the first `up`/`down`/`getPending`/`getExecuted` of an ORM and checks that the
 * database exists (`schemaGenerator.ensureDatabase()`: `select 1 from pg_database ...`) on a pooled connection of
 * its own, not on the transaction passed to `up`. Called inside the migration transaction, that check needs a second
 * connection while the transaction holds the first: behind a transaction-mode pooler with every server connection
 * held by a migration transaction, it never gets one. Done here first, the check's connection is back in the pool
 * before the transaction takes it. Idempotent (the migrator remembers it ran). Pinned by
 * test/unit/mikro-orm-internals.spec.ts.
 */
export async function initMigrator(orm: MikroORM): Promise<void> {
  await (orm.migrator as unknown as { init(): Promise<void> }).init();
}

/**
 * A move (src/isolation/move/) copies rows through a publication of the schema's tables, not DDL: a migration applied
 * on the source meanwhile would make the copy differ (or stop the subscription). Migrations that would change such a
 * schema are refused (rolled back) until the move ends; so are the shared tier's tables' while a tenant moves out of
 * them. A tenant with nothing pending migrates as usual (`create` of a shared-tier tenant meanwhile works).
 */
async function isMoving(orm: MikroORM, schema: string, trx: Transaction): Promise<boolean> {
  const connection = orm.em.getConnection();
  const [version] = await connection.execute<{ v: string }[]>(`select current_setting('server_version_num') as v`, [], 'all', trx);
  if (Number(version?.v) < 150_000) return false; // publications of a schema (and so moves) need PostgreSQL 15
  // moves publish their tables one by one (FOR TABLE); a schema-wide publication is looked for too
  const moving = await connection.execute(
    `select 1 from pg_publication p where p.pubname like 'nmt\\_move\\_%' and (
       exists (select 1 from pg_publication_rel pr join pg_class c on c.oid = pr.prrelid join pg_namespace n on n.oid = c.relnamespace where pr.prpubid = p.oid and n.nspname = ?)
       or exists (select 1 from pg_publication_namespace pn join pg_namespace n on n.oid = pn.pnnspid where pn.pnpubid = p.oid and n.nspname = ?))`,
    [schema, schema],
    'all',
    trx,
  );
  return moving.length > 0;
}

/**
 * Inside the migration transaction: the schema or database must be this tenant's (a mark naming another tenant
 * stops the migration, 409), and one without a mark gets this tenant's when migrating up (see storage-owner.ts).
 * Database mode also checks the connection is in the tenant's database.
 */
async function claimStorage(orm: MikroORM, target: TenantMigrationTarget, direction: MigrationDirection, trx: Transaction): Promise<void> {
  if (target.shared) return;
  const connection = orm.em.getConnection();
  const platform = orm.em.getPlatform();
  let mark: string | null | undefined;
  let object: string;
  let where: string;
  if (target.schema) {
    where = `schema "${target.schema}"`;
    const rows = await connection.execute<{ mark: string | null }[]>(SCHEMA_OWNER_SQL, [target.schema], 'all', trx);
    if (!rows.length) return; // down on a schema that does not exist: the migrator reports it
    mark = rows[0]?.mark;
    object = `schema ${platform.quoteIdentifier(target.schema)}`;
  } else {
    const [row] = await connection.execute<{ db: string; mark: string | null }[]>(DATABASE_OWNER_SQL, [], 'all', trx);
    if (row?.db !== target.database) {
      throw new TenantConnectionMismatchError(target.tenantId, `its migration connection is not in the database derived for it ("${String(target.database)}").`);
    }
    mark = row.mark;
    where = `database "${row.db}"`;
    object = `database ${platform.quoteIdentifier(row.db)}`;
  }
  const owner = ownerFromComment(mark);
  if (owner !== undefined && owner !== target.tenantId) throw new TenantStorageConflictError(target.tenantId, where, owner, 'migrate');
  if (owner === undefined && direction === 'up') {
    await connection.execute(`comment on ${object} is ${platform.quoteValue(ownerMark(target.tenantId))}`, [], 'run', trx);
  }
}
