import type { EntityManager } from '@mikro-orm/core';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { RequestScope } from '../scope/request-scope.js';
import { NoTenantMigrationsError, ReadOnlyTenantStoreError, TenancyNotConfiguredError, TenantLifecycleError } from '../errors/lifecycle.errors.js';
import type { TenantProvisioning } from '../isolation/tenant-isolation.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import type { TenantSeeder } from '../options/tenancy-options.js';
import { LifecycleEmitter, type TenantLifecycleEvent, type TenantLifecycleEvents } from './lifecycle-events.js';
import type { MigrationDirection, MigrationStatus, TenantMigrationReport, TenantMigrationResult } from './migration-report.js';
import { type TenantMigrationOptions, TenantMigrations } from './tenant-migrations.js';
import { messageOf } from '../errors/message-of.js';
import type { TenantOperation } from '../observability/tenancy-observers.js';
import { TenantDropAndSuspend, type TenantDropOptions, type TenantDropResult } from './drop-tenant.js';
import { refuseForeignStorage } from './foreign-storage.js';
import { placeTenant } from './placement.js';
import { TenantMove, type TenantMoveOptions, type TenantMoveResult } from './move-tenant.js';

export type { TenantMoveOptions, TenantMoveResult } from './move-tenant.js';

export type { TenantDropOptions, TenantDropResult } from './drop-tenant.js';

export interface TenantCreateOptions<T extends TenantRecord = TenantRecord> {
  /** Overrides `tenancy.seed` for this tenant; `false` skips seeding. */
  seed?: TenantSeeder<T> | false;
  /**
   * Several servers (`tenancy.servers`): the server to create it on, instead of `tenancy.placement`'s choice. A
   * registered tenant stays where it is (move it with `move`).
   */
  server?: string;
}

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
  #parts?: { tenants: TenantRuntime<T>; migrations: TenantMigrations<T>; provisioning: TenantProvisioning<T>; dropAndSuspend: TenantDropAndSuspend<T>; mover: TenantMove<T> };

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
    const server = await placeTenant(tenants, tenant, registered, options.server ?? data.server);
    if (server !== undefined) tenant.server = server;
    const where = tenants.isolation.describe(tenant);
    await provisioning.beforeCreate?.(tenant);
    const storage = await refuseForeignStorage(tenants, provisioning, tenant, 'create');
    const existed = storage.exists;
    let migrated: TenantMigrationResult | undefined;
    try {
      if (!existed) await provisioning.create(tenant);
      migrated = await migrations.migrateOne(tenant);
      // shared tables are migrated once, by the first tenant: the next ones find nothing pending
      const sharedTables = tenants.isolation.migrations.shared || tenants.isolation.migrations.target(tenant).shared === true;
      if (!existed && migrated.migrations.length === 0 && !sharedTables) throw new NoTenantMigrationsError(tenants.contextName, tenants.options.config);
      const afterStorageCreated = tenants.options.afterStorageCreated;
      if (!existed && afterStorageCreated) await this.inTenant(tenants, tenant, (em) => afterStorageCreated({ tenant, em, where }));
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
    return this.observed('drop', tenantId, () => this.parts('TenantLifecycle.drop').dropAndSuspend.drop(tenantId, options));
  }

  /**
   * Moves a tenant to another server (`tenancy.servers`, schema isolation) while the app runs: PostgreSQL's logical
   * replication copies its schema and every later change; its work is held on every instance only for the last
   * catch-up, verification (row counts and a checksum per table) and the switch of its record; the source's copy is
   * removed last. Rerun after a failure or crash at any step to continue. See docs/moving-tenants.md.
   */
  move(tenantId: string, options: TenantMoveOptions): Promise<TenantMoveResult> {
    return this.observed('move', tenantId, () => this.parts('TenantLifecycle.move').mover.move(tenantId, options));
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
    const name = suspended ? 'suspend' : 'resume';
    return this.observed(name, tenantId, () => this.parts(`TenantLifecycle.${name}`).dropAndSuspend.setSuspended(tenantId, suspended));
  }

  /** Through the tracing and metrics observers (src/observability/): a span and outcome counters per operation. */
  private observed<R>(name: TenantOperation['name'], tenantId: string, run: () => Promise<R>): Promise<R> {
    const tenants = this.runtime.tenants;
    if (!tenants) return run(); // run() throws TenancyNotConfiguredError
    return tenants.observers.operation({ name, tenantId: tenants.isValidId(tenantId) ? tenantId : undefined }, run);
  }

  private seed(tenants: TenantRuntime<T>, tenant: T, seed: TenantSeeder<T>): Promise<void> {
    return this.inTenant(tenants, tenant, async (em) => {
      await seed(em, tenant);
      await em.flush();
    });
  }

  /** Runs `fn` in the tenant's context (injected tenant EntityManagers work too), before it is registered. */
  private async inTenant(tenants: TenantRuntime<T>, tenant: T, fn: (em: EntityManager) => unknown): Promise<void> {
    const active = await tenants.isolation.acquire(tenant);
    try {
      await this.runtime.context.run(new RequestScope(this.runtime, active), async () => void (await fn(active.em)));
    } finally {
      active.release();
    }
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
    const provisioning = isolation.provisioning;
    const dropAndSuspend = new TenantDropAndSuspend<T>(tenants, provisioning, this.#logger, this.#events);
    const migrations = new TenantMigrations<T>(tenants, this.#logger);
    this.#parts = { tenants, migrations, provisioning, dropAndSuspend, mover: new TenantMove<T>(tenants, migrations, this.#logger) };
    return this.#parts;
  }
}
