import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { StorageOwner } from '../storage-owner.js';
import type { TenantProvisioning } from '../tenant-isolation.js';
import type { MikroORM } from '@mikro-orm/core';

/** What schema provisioning needs of SchemaIsolation. */
interface TenantSchemas<T extends TenantRecord> {
  readonly orm: MikroORM;
  schemaOf(record: T): string;
  ownerOf(record: T): Promise<StorageOwner>;
  forget(record: T): void;
}

/** Schema mode: schemas of the one tenant database, reached through the tenant context's ORM. */
export class SchemaProvisioning<T extends TenantRecord> implements TenantProvisioning<T> {
  constructor(private readonly isolation: TenantSchemas<T>) {}

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
    const em = this.isolation.orm.em;
    await em.getConnection().execute(`drop schema if exists ${em.getPlatform().quoteIdentifier(this.nameOf(record))} cascade`);
  }
}
