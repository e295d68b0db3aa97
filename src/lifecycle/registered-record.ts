import { ReadOnlyTenantStoreError } from '../errors/lifecycle.errors.js';
import { TenantNotFoundError } from '../errors/tenant.errors.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';

/**
 * The record of a registered tenant about to be changed (suspended, resumed, moved): the id checked (400), a store
 * that can write it back (refused otherwise, before anything is done), and the record (404 when it is not there).
 */
export async function registeredRecordToChange<T extends TenantRecord>(tenants: TenantRuntime<T>, tenantId: string): Promise<{ record: T; save: (record: T) => Promise<void> }> {
  tenants.validateId(tenantId);
  const store = tenants.store;
  if (!store.add) throw new ReadOnlyTenantStoreError('add', tenantId);
  const record = await store.find(tenantId);
  if (!record) throw new TenantNotFoundError(tenantId);
  return { record, save: (changed) => (store.add as (r: T) => Promise<void>).call(store, changed) };
}
