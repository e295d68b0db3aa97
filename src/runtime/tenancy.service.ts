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
  run<R>(tenantId: string, fn: () => R | Promise<R>): Promise<R>;
  async run<R>(tenantOrFn: string | (() => R | Promise<R>), maybeFn?: () => R | Promise<R>): Promise<R> {
    if (typeof tenantOrFn === 'function') {
      return this.runtime.context.run(new RequestScope(this.runtime), tenantOrFn);
    }
    const tenants = this.runtime.tenants;
    if (!tenants) throw new TenancyNotConfiguredError(`TenancyService.run('${tenantOrFn}', fn)`);
    const fn = maybeFn as () => R | Promise<R>;
    const tenant = await tenants.enter(tenantOrFn);
    try {
      return await this.runtime.context.run(new RequestScope(this.runtime, tenant), fn);
    } finally {
      tenant.release();
    }
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

  private get tenantContextName(): string {
    return this.runtime.tenantContextName ?? 'tenant';
  }
}
