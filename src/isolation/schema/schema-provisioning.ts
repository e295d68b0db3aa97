import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { StorageOwner } from '../storage-owner.js';
import type { TenantProvisioning } from '../tenant-isolation.js';
import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { SIGNALABLE_SESSION_SQL, dropAfterDraining } from '../drain-sessions.js';

/** Other sessions holding a lock on a table (or any relation) of the schema: reading or writing it right now. */
const SESSIONS_IN_SCHEMA_SQL =
  'select distinct l.pid from pg_locks l join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace ' +
  'where n.nspname = ? and l.pid <> pg_backend_pid()';

/** A process without a role (an autovacuum worker) holds a lock in the schema: PostgreSQL cancels an autovacuum once a lock request has waited deadlock_timeout. */
const AUTOVACUUM_IN_SCHEMA_SQL =
  'select exists(select 1 from pg_locks l join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace ' +
  'join pg_stat_activity a on a.pid = l.pid where n.nspname = ? and a.usesysid is null) as busy';

/** What schema provisioning needs of SchemaIsolation. */
interface TenantSchemas<T extends TenantRecord> {
  readonly orm: MikroORM;
  schemaOf(record: T): string;
  ownerOf(record: T): Promise<StorageOwner>;
  forgetTenant(tenantId: string): Promise<void>;
}

/** The schema's tables (partitioned ones lock their partitions), quoted for `lock table`. */
const TABLES_IN_SCHEMA_SQL =
  "select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace " +
  "where n.nspname = ? and c.relkind in ('r', 'p') order by c.oid";

/** How long one drop attempt waits for a table lock before it ends the sessions holding it and retries. */
const DROP_LOCK_TIMEOUT_MS = 3_000;
/** At most this long to take every table lock at once; kept under half of the server's `deadlock_timeout`. */
const LOCK_ALL_TABLES_MS = 300;

/** Schema mode: schemas of the one tenant database, reached through the tenant context's ORM. */
export class SchemaProvisioning<T extends TenantRecord> implements TenantProvisioning<T> {
  constructor(
    private readonly isolation: TenantSchemas<T>,
    private readonly logger: Logger,
  ) {}

  nameOf(record: T): string {
    return this.isolation.schemaOf(record);
  }

  ownerOf(record: T): Promise<StorageOwner> {
    return this.isolation.ownerOf(record);
  }

  async create(): Promise<void> {
    // done by migrateTenant, in the same transaction as the migrations: a failure leaves no empty schema behind
  }

  /**
   * `drop schema ... cascade` takes an exclusive lock on every object of the schema, one by one (a table's sequence
   * before the table): a transaction still using them would block it, so sessions get until `drainUntil`, then are
   * ended. A request that arrives meanwhile (from an app instance that does not know of the drop) could take the
   * table, then wait for the sequence the drop holds: a deadlock, which PostgreSQL may resolve by failing the
   * *request*. So the drop first locks every table in one statement bounded well below `deadlock_timeout`: it
   * gives up (and retries, see dropAfterDraining) before PostgreSQL looks for a deadlock, and once it holds the
   * tables no request can start a query on the schema; those waiting fail after the drop with "relation does not
   * exist", which is a 503.
   */
  async drop(record: T, options: { drainUntil?: number } = {}): Promise<void> {
    await this.isolation.forgetTenant(record.id);
    const schema = this.nameOf(record);
    const connection = this.isolation.orm.em.getConnection();
    const quoted = this.isolation.orm.em.getPlatform().quoteIdentifier(schema);
    const sessions = {
      count: async () => (await connection.execute(SESSIONS_IN_SCHEMA_SQL, [schema])).length,
      end: async () =>
        (await connection.execute(`select pg_terminate_backend(a.pid) from pg_stat_activity a where a.pid in (${SESSIONS_IN_SCHEMA_SQL}) and ${SIGNALABLE_SESSION_SQL}`, [schema])).length,
    };
    const drop = () =>
      connection.transactional(async (trx) => {
        const [{ ms: deadlockTimeoutMs }] = await connection.execute<{ ms: number }[]>(
          "select setting::int as ms from pg_settings where name = 'deadlock_timeout'",
          [],
          'all',
          trx,
        );
        const tables = (await connection.execute<{ name: string }[]>(TABLES_IN_SCHEMA_SQL, [schema], 'all', trx)).map((t: { name: string }) => t.name);
        if (tables.length > 0) {
          // an autovacuum worker (which a role without SUPERUSER may not end) is cancelled by PostgreSQL only once
          // a lock request has waited deadlock_timeout: then wait past it
          const [{ busy }] = await connection.execute<{ busy: boolean }[]>(AUTOVACUUM_IN_SCHEMA_SQL, [schema], 'all', trx);
          const lockAllMs = busy ? deadlockTimeoutMs + 1_000 : Math.max(1, Math.min(LOCK_ALL_TABLES_MS, Math.floor(deadlockTimeoutMs / 2)));
          await connection.execute(`set local statement_timeout = '${lockAllMs}ms'`, [], 'run', trx);
          await connection.execute(`lock table ${tables.join(', ')} in access exclusive mode`, [], 'run', trx);
          await connection.execute('set local statement_timeout to default', [], 'run', trx);
        }
        await connection.execute(`set local lock_timeout = '${DROP_LOCK_TIMEOUT_MS}ms'`, [], 'run', trx);
        await connection.execute(`drop schema if exists ${quoted} cascade`, [], 'run', trx);
      });
    await dropAfterDraining(sessions, drop, options.drainUntil ?? 0, this.logger, `schema "${schema}" of tenant '${record.id}'`);
  }
}
