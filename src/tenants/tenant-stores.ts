import type { EntityClass } from '@mikro-orm/core';
import { StaticTenantStore } from './static-tenant-store.js';
import { TableTenantStore, type TableTenantStoreOptions } from './table-tenant-store.js';
import type { TenantRecord } from './tenant-store.js';

/** Ready-made tenant stores. */
export const TenantStores = {
  /** A fixed list of tenants (records or bare ids). */
  static: <T extends TenantRecord = TenantRecord>(tenants: Iterable<T | string>) => new StaticTenantStore<T>(tenants),
  /** Rows of `entity` in a static context (default: the `default` context). */
  table: <T extends TenantRecord & object>(entity: EntityClass<T>, options?: TableTenantStoreOptions) =>
    new TableTenantStore<T>(entity, options),
};
