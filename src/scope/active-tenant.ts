import type { Dictionary, EntityManager, ForkOptions } from '@mikro-orm/core';

/** How a tenant's fork is made: MikroORM's fork options (schema, session context) and filter params to set on it. */
export interface TenantForkOptions extends Pick<ForkOptions, 'schema' | 'session'> {
  filterParams?: Record<string, Dictionary>;
}

/** A tenant's fork options made ready once (see tenantFork): every request of the tenant shares them. */
export interface TenantFork {
  readonly options: Readonly<ForkOptions>;
  readonly filterParams: readonly (readonly [string, Dictionary])[];
}

/**
 * The fork options of a tenant, prepared for every request of it: an isolation keeps the result per tenant, so the
 * per-request path builds no option object (the forks never resolve a context of their own).
 */
export function tenantFork({ filterParams, ...options }: TenantForkOptions): TenantFork {
  return Object.freeze({
    options: Object.freeze({ ...options, disableContextResolution: true }),
    filterParams: Object.freeze(Object.entries(filterParams ?? {}).map((entry) => Object.freeze(entry))),
  });
}

/** No option at all (database mode: the tenant's own ORM). */
export const PLAIN_TENANT_FORK: TenantFork = tenantFork({});
import type { TenantRecord } from '../tenants/tenant-store.js';

/**
 * The tenant of one request or `run()`: its record and, made on first use, its EntityManager fork
 * (schema mode: a fork pinned to the tenant's schema; database mode: a fork of the tenant's own ORM; table mode: a
 * fork whose filters and session context name the tenant).
 */
export class ActiveTenant<T extends TenantRecord = TenantRecord> {
  #em?: EntityManager;
  /** Holders: the request or run() that entered the tenant, and a handler still running (see hold()). */
  #holds = 1;
  #afterRelease?: () => void;
  /** Ends the entering request's (or run's) hold; safe to call more than once. */
  readonly release: () => void;

  constructor(
    readonly record: T,
    private readonly root: EntityManager,
    private readonly fork: TenantFork,
    private readonly onRelease?: () => void,
  ) {
    this.release = this.holdRelease();
  }

  get id(): string {
    return this.record.id;
  }

  get em(): EntityManager {
    if (this.#em) return this.#em;
    const em = this.root.fork(this.fork.options);
    for (const [name, params] of this.fork.filterParams) em.setFilterParams(name, params);
    this.#em = em;
    return em;
  }

  /**
   * One more holder, e.g. a handler that keeps running after its client disconnected: the tenant's connection
   * slot (database mode) goes back only when every holder is done, so the pool never closes an ORM in use.
   * Returns this holder's release (idempotent), or undefined when the tenant was already given back.
   */
  hold(): (() => void) | undefined {
    if (this.#holds === 0) return undefined;
    this.#holds++;
    return this.holdRelease();
  }

  /** Also calls `fn` when the tenant is given back (the runtime counts the tenant's work in flight this way). */
  onReleased(fn: () => void): void {
    this.#afterRelease = fn;
  }

  /** The release of one hold already counted: idempotent; the last one gives the tenant back. */
  private holdRelease(): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#holds--;
      if (this.#holds > 0) return;
      this.onRelease?.();
      this.#afterRelease?.();
    };
  }
}
