import { Inject, Injectable, Logger } from '@nestjs/common';
import { RequestScope } from '../scope/request-scope.js';
import { NoTenantMigrationsError, ReadOnlyTenantStoreError, TenancyNotConfiguredError, TenantDropNotConfirmedError, TenantLifecycleError } from '../errors/lifecycle.errors.js';
import type { TenantProvisioning } from '../isolation/tenant-isolation.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import type { TenantSeeder } from '../options/tenancy-options.js';
import { TenantStorageConflictError } from '../errors/isolation.errors.js';
import { TenancyError } from '../errors/tenancy.error.js';
import type { StorageOwner } from '../isolation/storage-owner.js';
import { LifecycleEmitter, type TenantLifecycleEvent, type TenantLifecycleEvents } from './lifecycle-events.js';
import type { MigrationDirection, MigrationStatus, TenantMigrationReport, TenantMigrationResult } from './migration-report.js';
import { type TenantMigrationOptions, TenantMigrations } from './tenant-migrations.js';
import { messageOf } from '../errors/message-of.js';
import { TenantNotFoundError } from '../errors/tenant.errors.js';
import type { TenantOperation } from '../observability/tenancy-observers.js';


export interface TenantCreateOptions<T extends TenantRecord = TenantRecord> {
  /** Overrides `tenancy.seed` for this tenant; `false` skips seeding. */
  seed?: TenantSeeder<T> | false;
}

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

export interface TenantCreateResult<T extends TenantRecord = TenantRecord> {
  tenant: T;
  /** False when the tenant was already registered (then only pending migrations were applied). */
  created: boolean;
  /** Migrations applied by this call. */
  migrations: string[];
}

/**
 * Tenants at runtime: create (provision, migrate, seed, register), drop, and the tenant context's migrations over
 * one, some or every tenant. Every step names the tenant and what failed.
 */
@Injectable()
export class TenantLifecycle<T extends TenantRecord = TenantRecord> {
  readonly #logger = new Logger('TenantLifecycle');
  readonly #events = new LifecycleEmitter<T>(this.#logger);
  #parts?: { tenants: TenantRuntime<T>; migrations: TenantMigrations<T>; provisioning: TenantProvisioning<T> };

  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  /** Subscribes to `created`, `migrated`, `migrationFailed` or `dropped`; returns the unsubscribe function. */
  on<E extends TenantLifecycleEvent>(event: E, listener: (payload: TenantLifecycleEvents<T>[E]) => unknown): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Creates a tenant: validates the id, creates its schema or database, applies every tenant migration, seeds it,
   * and registers it in the store, in that order, so it serves requests only once complete. Idempotent: for a
   * registered tenant it only applies pending migrations. On failure, a schema or database this call created is
   * removed again, so a retry starts clean.
   */
  create(tenantId: string, data: Partial<T> = {}, options: TenantCreateOptions<T> = {}): Promise<TenantCreateResult<T>> {
    return this.observed('create', tenantId, () => this.createObserved(tenantId, data, options));
  }

  private async createObserved(tenantId: string, data: Partial<T>, options: TenantCreateOptions<T>): Promise<TenantCreateResult<T>> {
    const { tenants, migrations, provisioning } = this.parts('TenantLifecycle.create');
    tenants.validateId(tenantId);
    const store = tenants.store;
    if (!store.add) throw new ReadOnlyTenantStoreError('add', tenantId);
    const registered = await store.find(tenantId);
    const tenant = { ...registered, ...data, id: tenantId } as T;
    const where = tenants.isolation.describe(tenant);
    await provisioning.beforeCreate?.(tenant);
    const storage = await this.refuseForeignStorage(tenants, provisioning, tenant, 'create');
    const existed = storage.exists;
    let migrated: TenantMigrationResult | undefined;
    try {
      if (!existed) await provisioning.create(tenant);
      migrated = await migrations.migrateOne(tenant);
      // shared tables are migrated once, by the first tenant: the next ones find nothing pending
      if (!existed && migrated.migrations.length === 0 && !tenants.isolation.migrations.shared) throw new NoTenantMigrationsError(tenants.contextName, tenants.options.config);
      const seed = options.seed ?? tenants.options.seed;
      if (!registered && seed) await this.seed(tenants, tenant, seed);
      if (!registered || Object.keys(data).length) await store.add(tenant);
    } catch (error) {
      const cleanup = existed ? `Its existing ${where} was left as it was` : await this.removeAfterFailure(tenants, provisioning, tenant, where);
      const message = messageOf(error);
      await this.#events.emit('migrationFailed', { tenantId, error: message });
      throw new TenantLifecycleError(tenantId, `Creating tenant '${tenantId}' failed: ${message}. ${cleanup}; it was not registered. Fix the cause and call create again.`, error);
    }
    tenants.directory.invalidate(tenantId);
    if (!registered || Object.keys(data).length) await tenants.publish({ kind: registered ? 'updated' : 'created', tenantId });
    const { migrations: applied, durationMs } = migrated;
    this.#logger.log(`Tenant '${tenantId}' ${registered ? 'was already registered' : 'created'} (${where}, ${applied.length} migration(s) applied)`);
    if (applied.length) await this.#events.emit('migrated', { tenantId, direction: 'up', migrations: applied, durationMs });
    if (!registered) await this.#events.emit('created', { tenant, migrations: applied });
    return { tenant, created: !registered, migrations: applied };
  }

  /**
   * Drops a tenant, in an order that never loses track of data and never fails a request with a 500:
   * 1. fences it on every app instance (its new requests get 503 TenantDroppingError);
   * 2. lets the work already running finish, here and in every other session using its schema or database, up to
   *    `drainTimeoutMs`, then ends the sessions left (their requests get a 503);
   * 3. drops its schema or database (a lock conflict or deadlock is retried);
   * 4. only then removes it from the store (404 from then on), and tells every instance.
   * Needs `{ confirm: tenantId }`. Safe to rerun after a failure at any step; for a tenant with neither a record
   * nor data it does nothing and says so (`dropped: false`).
   */
  drop(tenantId: string, options: TenantDropOptions = {}): Promise<TenantDropResult> {
    return this.observed('drop', tenantId, () => this.dropObserved(tenantId, options));
  }

  private async dropObserved(tenantId: string, options: TenantDropOptions): Promise<TenantDropResult> {
    const { tenants, provisioning } = this.parts('TenantLifecycle.drop');
    tenants.validateId(tenantId);
    const store = tenants.store;
    const registered = await store.find(tenantId);
    const tenant = registered ?? ({ id: tenantId } as T);
    const where = tenants.isolation.describe(tenant);
    if (options.confirm !== tenantId) throw new TenantDropNotConfirmedError(tenantId, where);
    if (!store.remove) throw new ReadOnlyTenantStoreError('remove', tenantId);
    const storage = await this.refuseForeignStorage(tenants, provisioning, tenant, 'drop');
    if (!registered && !storage.exists) {
      this.#logger.log(`Tenant '${tenantId}' has nothing to drop: it is not registered and its ${where} does not exist`);
      return { tenantId, dropped: false, registered: false, storageExisted: false };
    }
    const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    const drainUntil = Date.now() + drainTimeoutMs;
    tenants.fences.fence(tenantId);
    await tenants.publish({ kind: 'dropping', tenantId, fenceMs: drainTimeoutMs + REMOTE_FENCE_MARGIN_MS });
    try {
      const running = await tenants.fences.drained(tenantId, drainTimeoutMs);
      if (running > 0) this.#logger.warn(`Tenant '${tenantId}': ${running} unit(s) of work still running after ${drainTimeoutMs} ms; ending them to drop its ${where}`);
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
    this.#logger.log(`Tenant '${tenantId}' dropped (${where})`);
    await this.#events.emit('dropped', { tenantId });
    return { tenantId, dropped: true, registered: registered !== undefined, storageExisted: storage.exists };
  }

  /** Suspends a tenant: its requests get 403 on every app instance (work already running finishes). */
  suspend(tenantId: string): Promise<T> {
    return this.setSuspended(tenantId, true);
  }

  /** Serves a suspended tenant again, on every app instance. */
  resume(tenantId: string): Promise<T> {
    return this.setSuspended(tenantId, false);
  }

  /** Applies pending tenant migrations to every tenant (or `options.tenants`); see TenantMigrationOptions. */
  migrate(options: TenantMigrationOptions = {}): Promise<TenantMigrationReport> {
    return this.fanOut('up', options);
  }

  /** Reverts the last tenant migration (or down to `options.to`) of every tenant (or `options.tenants`). */
  rollback(options: TenantMigrationOptions = {}): Promise<TenantMigrationReport> {
    return this.fanOut('down', options);
  }

  /** Executed and pending tenant migrations, per tenant. */
  status(tenantIds?: string[]): Promise<MigrationStatus[]> {
    return this.parts('TenantLifecycle.status').migrations.status(tenantIds);
  }

  /** Ids of every registered tenant. */
  async list(): Promise<T[]> {
    return this.parts('TenantLifecycle.list').tenants.store.list();
  }

  private async fanOut(direction: MigrationDirection, options: TenantMigrationOptions): Promise<TenantMigrationReport> {
    const { migrations } = this.parts(`TenantLifecycle.${direction === 'up' ? 'migrate' : 'rollback'}`);
    const report = await migrations.run(direction, options);
    for (const result of report.tenants) {
      if (result.status === 'migrated') await this.#events.emit('migrated', { tenantId: result.tenantId, direction, migrations: result.migrations, durationMs: result.durationMs });
      if (result.status === 'failed') await this.#events.emit('migrationFailed', { tenantId: result.tenantId, error: result.error ?? 'unknown error' });
    }
    return report;
  }

  private setSuspended(tenantId: string, suspended: boolean): Promise<T> {
    return this.observed(suspended ? 'suspend' : 'resume', tenantId, () => this.setSuspendedObserved(tenantId, suspended));
  }

  /** Through the tracing and metrics observers (src/observability/): a span and outcome counters per operation. */
  private observed<R>(name: TenantOperation['name'], tenantId: string, run: () => Promise<R>): Promise<R> {
    const tenants = this.runtime.tenants;
    if (!tenants) return run(); // run() throws TenancyNotConfiguredError
    return tenants.observers.operation({ name, tenantId: tenants.isValidId(tenantId) ? tenantId : undefined }, run);
  }

  private async setSuspendedObserved(tenantId: string, suspended: boolean): Promise<T> {
    const { tenants } = this.parts(`TenantLifecycle.${suspended ? 'suspend' : 'resume'}`);
    tenants.validateId(tenantId);
    const store = tenants.store;
    if (!store.add) throw new ReadOnlyTenantStoreError('add', tenantId);
    const record = await store.find(tenantId);
    if (!record) throw new TenantNotFoundError(tenantId);
    const updated = { ...record, suspended } as T;
    if (Boolean(record.suspended) !== suspended) await store.add(updated);
    tenants.directory.invalidate(tenantId);
    await tenants.publish({ kind: suspended ? 'suspended' : 'resumed', tenantId });
    this.#logger.log(`Tenant '${tenantId}' ${suspended ? 'suspended' : 'resumed'}`);
    return updated;
  }

  private async seed(tenants: TenantRuntime<T>, tenant: T, seed: TenantSeeder<T>): Promise<void> {
    const active = await tenants.isolation.acquire(tenant);
    try {
      await this.runtime.context.run(new RequestScope(this.runtime, active), async () => {
        await seed(active.em, tenant);
        await active.em.flush();
      });
    } finally {
      active.release();
    }
  }

  /**
   * 409 when the tenant's schema or database is marked as another tenant's, or when another registered tenant
   * derives the same name: creating or dropping it would hand one tenant's data to another, or delete it.
   */
  private async refuseForeignStorage(tenants: TenantRuntime<T>, provisioning: TenantProvisioning<T>, tenant: T, phase: 'create' | 'drop'): Promise<StorageOwner> {
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

  private async removeAfterFailure(tenants: TenantRuntime<T>, provisioning: TenantProvisioning<T>, tenant: T, where: string): Promise<string> {
    try {
      await provisioning.drop(tenant);
      return `Its ${where}, made by this call, was removed`;
    } catch (error) {
      this.#logger.error(`Removing the ${where} of tenant '${tenant.id}' after a failed create failed: ${String(error)}`);
      return `Removing its ${where} failed too (${String(error)}); drop it by hand or call create again`;
    }
  }

  private parts(usage: string) {
    if (this.#parts) return this.#parts;
    const tenants = this.runtime.tenants as TenantRuntime<T> | undefined;
    if (!tenants) throw new TenancyNotConfiguredError(usage);
    const isolation = tenants.isolation;
    this.#parts = { tenants, migrations: new TenantMigrations<T>(tenants, this.#logger), provisioning: isolation.provisioning };
    return this.#parts;
  }
}


function nameOrUndefined<T extends TenantRecord>(provisioning: TenantProvisioning<T>, record: T): string | undefined {
  try {
    return provisioning.nameOf(record);
  } catch (error) {
    if (error instanceof TenancyError) return undefined;
    throw error;
  }
}
