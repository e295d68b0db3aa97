import type { Logger } from '@nestjs/common';
import { ReadOnlyTenantStoreError, TenantDropNotConfirmedError, TenantLifecycleError } from '../errors/lifecycle.errors.js';
import { messageOf } from '../errors/message-of.js';
import type { TenantProvisioning } from '../isolation/tenant-isolation.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { refuseForeignStorage } from './foreign-storage.js';
import { registeredRecordToChange } from './registered-record.js';
import type { LifecycleEmitter } from './lifecycle-events.js';

export interface TenantDropOptions {
  /** Must be the tenant id: dropping deletes every row of the tenant. */
  confirm?: string;
  /** How long work already running for the tenant (any app instance) may take before it is ended. Default 10000. */
  drainTimeoutMs?: number;
}

export interface TenantDropResult {
  tenantId: string;
  /** False when there was nothing to drop (no record, no schema or database): a rerun, or a mistyped id. */
  dropped: boolean;
  /** Whether the tenant was in the store. */
  registered: boolean;
  /** Whether its schema or database existed. */
  storageExisted: boolean;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Other instances keep a drop's fence this much longer than its drain time when they hear nothing more. */
const REMOTE_FENCE_MARGIN_MS = 60_000;

/** TenantLifecycle's drop, suspend and resume (it wraps each in its tracing and metrics observers). */
export class TenantDropAndSuspend<T extends TenantRecord = TenantRecord> {
  constructor(
    private readonly tenants: TenantRuntime<T>,
    private readonly provisioning: TenantProvisioning<T>,
    private readonly logger: Logger,
    private readonly events: LifecycleEmitter<T>,
  ) {}

  /** See TenantLifecycle.drop. */
  async drop(tenantId: string, options: TenantDropOptions): Promise<TenantDropResult> {
    const { tenants, provisioning } = this;
    tenants.validateId(tenantId);
    const store = tenants.store;
    const registered = await store.find(tenantId);
    const tenant = registered ?? ({ id: tenantId } as T);
    const where = tenants.isolation.describe(tenant);
    if (options.confirm !== tenantId) throw new TenantDropNotConfirmedError(tenantId, where);
    if (!store.remove) throw new ReadOnlyTenantStoreError('remove', tenantId);
    const storage = await refuseForeignStorage(tenants, provisioning, tenant, 'drop');
    if (!registered && !storage.exists) {
      this.logger.log(`Tenant '${tenantId}' has nothing to drop: it is not registered and its ${where} does not exist`);
      return { tenantId, dropped: false, registered: false, storageExisted: false };
    }
    const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    const drainUntil = Date.now() + drainTimeoutMs;
    tenants.fences.fence(tenantId);
    await tenants.publish({ kind: 'dropping', tenantId, fenceMs: drainTimeoutMs + REMOTE_FENCE_MARGIN_MS });
    try {
      const running = await tenants.fences.drained(tenantId, drainTimeoutMs);
      if (running > 0) this.logger.warn(`Tenant '${tenantId}': ${running} unit(s) of work still running after ${drainTimeoutMs} ms; ending them to drop its ${where}`);
      await provisioning.drop(tenant, { drainUntil });
    } catch (error) {
      tenants.fences.lift(tenantId);
      await tenants.publish({ kind: 'drop-aborted', tenantId });
      const message = messageOf(error);
      throw new TenantLifecycleError(tenantId, `Dropping the ${where} of tenant '${tenantId}' failed: ${message}. The tenant is still registered and served again. Call drop again to retry.`, error);
    }
    try {
      if (registered) await store.remove(tenantId);
    } catch (error) {
      // still fenced here (and, for a while, on the other instances): it has no data left to serve
      const message = messageOf(error);
      throw new TenantLifecycleError(tenantId, `The ${where} of tenant '${tenantId}' was dropped, but removing it from the tenant store failed: ${message}. Call drop again to finish.`, error);
    }
    tenants.directory.invalidate(tenantId);
    tenants.fences.lift(tenantId, true);
    await tenants.publish({ kind: 'dropped', tenantId });
    this.logger.log(`Tenant '${tenantId}' dropped (${where})`);
    await this.events.emit('dropped', { tenantId });
    return { tenantId, dropped: true, registered: registered !== undefined, storageExisted: storage.exists };
  }

  /** See TenantLifecycle.suspend and resume. */
  async setSuspended(tenantId: string, suspended: boolean): Promise<T> {
    const { tenants } = this;
    const { record, save } = await registeredRecordToChange(tenants, tenantId);
    const updated = { ...record, suspended } as T;
    if (Boolean(record.suspended) !== suspended) await save(updated);
    tenants.directory.invalidate(tenantId);
    await tenants.publish({ kind: suspended ? 'suspended' : 'resumed', tenantId });
    this.logger.log(`Tenant '${tenantId}' ${suspended ? 'suspended' : 'resumed'}`);
    return updated;
  }
}
