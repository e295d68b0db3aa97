import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { DatabaseIsolation } from '../isolation/database/database-isolation.js';
import { openConnectedOrm } from '../isolation/open-orm.js';
import type { SchemaIsolation } from '../isolation/schema/schema-isolation.js';
import { NAMED_DATABASE_OWNER_SQL, type StorageOwner, ownerMark, storageOwnerOf } from '../isolation/storage-owner.js';
import type { TenantRecord } from '../tenants/tenant-store.js';

/** Where a tenant's data lives, and how to check, create and remove it. Identifiers are validated, then quoted. */
export interface TenantProvisioning<T extends TenantRecord = TenantRecord> {
  /** `schema "tenant_acme"` or `database "tenant_acme"`, for messages. */
  describe(record: T): string;
  /** The name of its schema or database (two tenants must never derive the same one). */
  nameOf(record: T): string;
  /** Whether it exists, and which tenant's owner mark it carries. */
  ownerOf(record: T): Promise<StorageOwner>;
  /** Creates what holds the tenant's data. Schema mode creates the schema inside the migration transaction instead. */
  create(record: T): Promise<void>;
  drop(record: T): Promise<void>;
}

/** Schema mode: schemas of the one tenant database, reached through the tenant context's ORM. */
export class SchemaProvisioning<T extends TenantRecord> implements TenantProvisioning<T> {
  constructor(private readonly isolation: SchemaIsolation<T>) {}

  describe(record: T): string {
    return this.isolation.describe(record);
  }

  nameOf(record: T): string {
    return this.isolation.schemaOf(record);
  }

  ownerOf(record: T): Promise<StorageOwner> {
    return this.isolation.ownerOf(record);
  }

  async create(): Promise<void> {
    // done by migrateTenant, in the same transaction as the migrations: a failure leaves no empty schema behind
  }

  async drop(record: T): Promise<void> {
    this.isolation.forget(record);
    const connection = this.isolation.orm.em.getConnection();
    const quoted = this.isolation.orm.em.getPlatform().quoteIdentifier(this.isolation.schemaOf(record));
    await connection.execute(`drop schema if exists ${quoted} cascade`);
  }
}

/**
 * Database mode: `create database` / `drop database` run on the tenant's server through its management database
 * (MikroORM's `schemaGenerator.managementDbName`, default `postgres`), with a short-lived connection.
 */
export class DatabaseProvisioning<T extends TenantRecord> implements TenantProvisioning<T> {
  constructor(
    private readonly isolation: DatabaseIsolation<T>,
    private readonly logger: Logger,
  ) {}

  describe(record: T): string {
    return this.isolation.describe(record);
  }

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

  private async onServerOf<R>(record: T, fn: (orm: MikroORM) => Promise<R>): Promise<R> {
    const options = this.isolation.ormOptions(record);
    const managementDb = (options.schemaGenerator as { managementDbName?: string } | undefined)?.managementDbName ?? 'postgres';
    const label = `the management database of tenant '${record.id}'`;
    const orm = await openConnectedOrm({ ...options, dbName: managementDb, pool: { min: 0, max: 1 }, contextName: `${options.contextName}:admin` }, this.logger, label);
    try {
      return await fn(orm);
    } finally {
      await orm.close();
    }
  }
}
