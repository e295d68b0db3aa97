import { TenantStorageConflictError } from '../errors/isolation.errors.js';
import { TenancyError } from '../errors/tenancy.error.js';
import type { StorageOwner } from '../isolation/storage-owner.js';
import type { TenantProvisioning } from '../isolation/tenant-isolation.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';

/**
 * 409 when the tenant's schema or database is marked as another tenant's, or when another registered tenant
 * derives the same name: creating or dropping it would hand one tenant's data to another, or delete it.
 */
export async function refuseForeignStorage<T extends TenantRecord>(tenants: TenantRuntime<T>, provisioning: TenantProvisioning<T>, tenant: T, phase: 'create' | 'drop'): Promise<StorageOwner> {
  const where = tenants.isolation.describe(tenant);
  const storage = await provisioning.ownerOf(tenant);
  if (storage.exists && storage.owner !== undefined && storage.owner !== tenant.id) {
    throw new TenantStorageConflictError(tenant.id, where, storage.owner, phase);
  }
  const name = provisioning.nameOf(tenant);
  for (const other of await tenants.store.list()) {
    // records with an invalid id or derived name are never provisioned or served, so they cannot share anything
    if (other.id === tenant.id || !tenants.isValidId(other.id) || nameOrUndefined(provisioning, other) !== name) continue;
    throw new TenantStorageConflictError(tenant.id, where, other.id, phase);
  }
  return storage;
}

function nameOrUndefined<T extends TenantRecord>(provisioning: TenantProvisioning<T>, record: T): string | undefined {
  try {
    return provisioning.nameOf(record);
  } catch (error) {
    if (error instanceof TenancyError) return undefined;
    throw error;
  }
}
