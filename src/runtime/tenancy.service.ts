import type { EntityManager } from '@mikro-orm/core';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { TenancyNotConfiguredError } from '../errors/lifecycle.errors.js';
import { NoTenantContextError } from '../errors/tenant.errors.js';
import { TenancyRuntime } from './tenancy-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { RequestScope } from '../scope/request-scope.js';
import { drainQueue } from '../tenants/worker-queue.js';
import { FIX_THE_ROW, tenantRowProblem } from './tenant-row-problem.js';
import type { TenantRuntime } from './tenant-runtime.js';

export interface ForEachTenantOptions {
  /** Tenants handled at once. Default 1. */
  concurrency?: number;
  /** Only these tenants (default: every tenant in the store that is not suspended). */
  tenants?: string[];
}

/** A tenant opened explicitly (TenancyService.open), outside or alongside the current unit of work. */
export interface TenantHandle<T extends TenantRecord = TenantRecord> extends AsyncDisposable {
  readonly tenant: T;
  /**
   * A fork of the tenant's EntityManager of its own (identity map included), pinned to the tenant whatever the
   * current request's tenant is: schema mode qualifies every table with the tenant's schema, database mode reaches
   * only the tenant's database.
   */
  readonly em: EntityManager;
  /** Gives the tenant back (database mode: its connection slot). Idempotent; `await using` calls it for you. */
  release(): void;
}

/** What `run(tenantId, fn)` passes to `fn`. */
export interface TenantRun<T extends TenantRecord = TenantRecord> {
  readonly tenant: T;
  /** The tenant's fork for this run: the same one the injected tenant EntityManager resolves to inside `fn`. */
  readonly em: EntityManager;
}

/** The current tenant, and entering a tenant (or a fresh context) outside HTTP: jobs, cron, queues, scripts. */
@Injectable()
export class TenancyService<T extends TenantRecord = TenantRecord> {
  readonly #logger = new Logger('TenancyService');

  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  /** The current tenant's record; throws (with advice) when no tenant is active. */
  current(): T {
    const tenant = this.runtime.context.currentTenant<T>();
    if (!tenant) throw new NoTenantContextError(this.tenantContextName);
    return tenant.record;
  }

  currentOrUndefined(): T | undefined {
    return this.runtime.context.currentTenant<T>()?.record;
  }

  /**
   * Runs `fn` with fresh forks of every context, as a request would: `run(fn)` for static contexts only,
   * `run(tenantId, fn)` for a tenant (same validation and lookup as HTTP: invalid, unknown or suspended throws).
   */
  run<R>(fn: () => R | Promise<R>): Promise<R>;
  run<R>(tenantId: string, fn: (run: TenantRun<T>) => R | Promise<R>): Promise<R>;
  async run<R>(tenantOrFn: string | (() => R | Promise<R>), maybeFn?: (run: TenantRun<T>) => R | Promise<R>): Promise<R> {
    if (typeof tenantOrFn === 'function') {
      return this.runtime.context.run(new RequestScope(this.runtime), tenantOrFn);
    }
    const fn = maybeFn as (run: TenantRun<T>) => R | Promise<R>;
    const tenant = await this.tenants('TenancyService.run(tenantId, fn)').enter(tenantOrFn);
    try {
      const run = { tenant: tenant.record as T, em: tenant.em };
      return await this.runtime.context.run(new RequestScope(this.runtime, tenant), () => fn(run));
    } finally {
      tenant.release();
    }
  }

  /**
   * Opens a tenant explicitly, for admin screens, reports over several tenants, or code that passes the
   * EntityManager along rather than relying on the current request: validated and looked up like a request (400,
   * 404, 403, 503 while it is being dropped). It does not change the current unit of work: injected tenant
   * EntityManagers keep resolving to the request's tenant (or fail closed when there is none). Release it, best with
   * `await using tenant = await tenancy.open('acme')`: in database mode an open handle holds a connection slot.
   */
  async open(tenantId: string): Promise<TenantHandle<T>> {
    const tenant = await this.tenants('TenancyService.open(tenantId)').enter(tenantId);
    return {
      tenant: tenant.record as T,
      em: tenant.em,
      release: tenant.release,
      [Symbol.asyncDispose]: async () => tenant.release(),
    };
  }

  /**
   * Runs `fn` once per tenant (each inside `run(tenant.id, ...)`); the first failure rejects after in-flight ones end.
   * Without `tenants`, rows of the store that cannot be a tenant (an invalid id, or an invalid schema or database
   * name derived from it) are logged as errors and skipped: they never stop the others.
   */
  async forEachTenant(fn: (tenant: T) => unknown, options: ForEachTenantOptions = {}): Promise<void> {
    const tenants = this.runtime.tenants;
    if (!tenants) throw new TenancyNotConfiguredError('TenancyService.forEachTenant');
    // suspended tenants are skipped unless named explicitly (then run() reports them)
    const ids = options.tenants ?? (await tenants.store.list()).filter((t) => !t.suspended && this.canBeTenant(tenants, t)).map((t) => t.id);
    let failure: { error: unknown } | undefined;
    const run = async (tenantId: string): Promise<void> => {
      try {
        await this.run(tenantId, () => fn(this.current()));
      } catch (error) {
        failure ??= { error };
      }
    };
    await drainQueue(ids, options.concurrency ?? 1, () => ({ run }), () => failure !== undefined);
    if (failure) throw failure.error;
  }

  private canBeTenant(tenants: TenantRuntime, record: TenantRecord): boolean {
    const problem = tenantRowProblem(tenants, record);
    if (problem) this.#logger.error(`forEachTenant: the tenant store lists ${problem.shownId}: ${problem.rule} ${FIX_THE_ROW}`);
    return problem === undefined;
  }

  private tenants(usage: string): TenantRuntime {
    const tenants = this.runtime.tenants;
    if (!tenants) throw new TenancyNotConfiguredError(usage);
    return tenants;
  }

  private get tenantContextName(): string {
    return this.runtime.tenantContextName ?? 'tenant';
  }
}
