import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { DatabaseIsolation } from '../isolation/database-isolation.js';
import { openConnectedOrm } from '../isolation/open-orm.js';
import type { SchemaIsolation } from '../isolation/schema-isolation.js';
import type { TenantRecord } from '../tenants/tenant-store.js';

/** Where a tenant's data lives, and how to check, create and remove it. Identifiers are validated, then quoted. */
export interface TenantProvisioning<T extends TenantRecord = TenantRecord> {
  /** `schema "tenant_acme"` or `database "tenant_acme"`, for messages. */
  describe(record: T): string;
  exists(record: T): Promise<boolean>;
  /** Creates what holds the tenant's data. Schema mode creates the schema inside the migration transaction instead. */
  create(record: T): Promise<void>;
  drop(record: T): Promise<void>;
}

/** Schema mode: schemas of the one tenant database, reached through the tenant context's ORM. */
export class SchemaProvisioning<T extends TenantRecord> implements TenantProvisioning<T> {
  constructor(private readonly isolation: SchemaIsolation<T>) {}

  describe(record: T): string {
    return `schema "${this.isolation.schemaOf(record)}"`;
  }

  async exists(record: T): Promise<boolean> {
    const rows = await this.connection().execute('select 1 from information_schema.schemata where schema_name = ?', [this.isolation.schemaOf(record)]);
    return rows.length > 0;
  }

  async create(): Promise<void> {
    // done by migrateTenant, in the same transaction as the migrations: a failure leaves no empty schema behind
  }

  async drop(record: T): Promise<void> {
    await this.connection().execute(`drop schema if exists ${this.quote(this.isolation.schemaOf(record))} cascade`);
  }

  private connection() {
    return this.isolation.orm.em.getConnection();
  }

  private quote(identifier: string): string {
    return this.isolation.orm.em.getPlatform().quoteIdentifier(identifier);
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
    return `database "${this.dbName(record)}"`;
  }

  exists(record: T): Promise<boolean> {
    return this.onServerOf(record, async (orm) => {
      const rows = await orm.em.getConnection().execute('select 1 from pg_database where datname = ?', [this.dbName(record)]);
      return rows.length > 0;
    });
  }

  create(record: T): Promise<void> {
    return this.onServerOf(record, async (orm) => {
      await orm.em.getConnection().execute(`create database ${orm.em.getPlatform().quoteIdentifier(this.dbName(record))}`);
    });
  }

  drop(record: T): Promise<void> {
    // `with (force)` ends other sessions still connected to it (other app instances): the tenant is being removed
    return this.onServerOf(record, async (orm) => {
      await orm.em.getConnection().execute(`drop database if exists ${orm.em.getPlatform().quoteIdentifier(this.dbName(record))} with (force)`);
    });
  }

  private dbName(record: T): string {
    const dbName = this.isolation.ormOptions(record).dbName;
    if (!dbName) throw new Error(`tenancy.database(tenant) gave no dbName for tenant '${record.id}': lifecycle needs one to create or drop it.`);
    return dbName;
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
