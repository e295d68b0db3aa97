import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import { onManagementDatabase } from '../management-database.js';
import { NAMED_DATABASE_OWNER_SQL, type StorageOwner, ownerMark, storageOwnerOf } from '../storage-owner.js';
import type { TenantProvisioning } from '../tenant-isolation.js';
import type { ContextConfig } from '../../options/tenancy-options.js';

/** What database provisioning needs of DatabaseIsolation. */
interface TenantDatabases<T extends TenantRecord> {
  ormOptions(record: T): ContextConfig & { dbName: string };
  forget(record: T): Promise<void>;
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

  async drop(record: T): Promise<void> {
    await this.isolation.forget(record);
    // `with (force)` ends other sessions still connected to it (other app instances): the tenant is being removed
    await this.onServerOf(record, async (orm) => {
      await orm.em.getConnection().execute(`drop database if exists ${orm.em.getPlatform().quoteIdentifier(this.nameOf(record))} with (force)`);
    });
  }

  private onServerOf<R>(record: T, fn: (orm: MikroORM) => Promise<R>): Promise<R> {
    return onManagementDatabase(this.isolation.ormOptions(record), this.logger, `the management database of tenant '${record.id}'`, fn);
  }
}
