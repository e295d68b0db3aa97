import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import { onManagementDatabase } from '../management-database.js';
import { NAMED_DATABASE_OWNER_SQL, type StorageOwner, ownerMark, storageOwnerOf } from '../storage-owner.js';
import type { TenantProvisioning } from '../tenant-isolation.js';
import type { ContextConfig } from '../../options/tenancy-options.js';
import { SIGNALABLE_SESSION_SQL, dropAfterDraining } from '../drain-sessions.js';

/**
 * Other sessions working in the database (every app instance, any client): idle ones are left out, since a pooler
 * (PgBouncer) keeps idle server connections to it that no request uses; `with (force)` ends those.
 */
const SESSIONS_IN_DATABASE_SQL = `select pid from pg_stat_activity where datname = ? and pid <> pg_backend_pid() and state <> 'idle'`;

/** What database provisioning needs of DatabaseIsolation. */
interface TenantDatabases<T extends TenantRecord> {
  ormOptions(record: T): ContextConfig & { dbName: string };
  forgetTenant(tenantId: string): Promise<void>;
}

/**
 * Database mode: `create database` / `drop database` run on the tenant's server through its management database
 * (MikroORM's `schemaGenerator.managementDbName`, default `postgres`), with a short-lived connection.
 */
export class DatabaseProvisioning<T extends TenantRecord> implements TenantProvisioning<T> {
  constructor(
    private readonly isolation: TenantDatabases<T>,
    private readonly logger: Logger,
  ) {}

  nameOf(record: T): string {
    return this.isolation.ormOptions(record).dbName;
  }

  ownerOf(record: T): Promise<StorageOwner> {
    return this.onServerOf(record, async (orm) =>
      storageOwnerOf(await orm.em.getConnection().execute<{ mark: string | null }[]>(NAMED_DATABASE_OWNER_SQL, [this.nameOf(record)])),
    );
  }

  /** Creates the database and marks it as the tenant's at once (see storage-owner.ts). */
  create(record: T): Promise<void> {
    return this.onServerOf(record, async (orm) => {
      const quoted = orm.em.getPlatform().quoteIdentifier(this.nameOf(record));
      await orm.em.getConnection().execute(`create database ${quoted}`);
      await orm.em.getConnection().execute(`comment on database ${quoted} is ${orm.em.getPlatform().quoteValue(ownerMark(record.id))}`);
    });
  }

  /**
   * This process's ORM of the tenant closes once its requests are done; sessions of other instances get until
   * `drainUntil` (they close theirs when told of the drop), then `with (force)` ends what is left.
   */
  async drop(record: T, options: { drainUntil?: number } = {}): Promise<void> {
    const dbName = this.nameOf(record);
    // not awaited: it ends when this process's requests of the tenant do (their sessions are ended below if need be)
    const closing = this.isolation.forgetTenant(record.id);
    await this.onServerOf(record, async (orm) => {
      const connection = orm.em.getConnection();
      const sessions = {
        count: async () => (await connection.execute(SESSIONS_IN_DATABASE_SQL, [dbName])).length,
        // every session this role may end, idle ones included (a pooler's server connections). Not `drop database
        // ... with (force)`: it fails as a whole for a role without SUPERUSER when one session is not its to end,
        // an autovacuum worker included, which a plain `drop database` makes exit by itself
        end: async () =>
          (await connection.execute(`select pg_terminate_backend(a.pid) from pg_stat_activity a where a.datname = ? and a.pid <> pg_backend_pid() and ${SIGNALABLE_SESSION_SQL}`, [dbName]))
            .length,
      };
      const drop = async () => void (await connection.execute(`drop database if exists ${orm.em.getPlatform().quoteIdentifier(dbName)}`));
      await dropAfterDraining(sessions, drop, options.drainUntil ?? 0, this.logger, `database "${dbName}" of tenant '${record.id}'`);
    });
    void closing; // never rejects: a failing close is logged by the ORM pool
  }

  private onServerOf<R>(record: T, fn: (orm: MikroORM) => Promise<R>): Promise<R> {
    return onManagementDatabase(this.isolation.ormOptions(record), this.logger, `the management database of tenant '${record.id}'`, fn);
  }
}
