import type { EntityManager } from '@mikro-orm/core';
import type { StaticContexts, TenantRecord } from '../tenants/tenant-store.js';
import type { ActiveTenant } from './active-tenant.js';


/**
 * Everything one request (or one `run()`) sees: a fork of each static context, made on first use so unused
 * contexts cost nothing, and the active tenant if any. Never shared between requests.
 */
export class RequestScope<T extends TenantRecord = TenantRecord> {
  #forks?: Map<string, EntityManager>;

  constructor(
    private readonly orms: StaticContexts,
    readonly tenant?: ActiveTenant<T>,
  ) {}

  fork(contextName: string): EntityManager {
    this.#forks ??= new Map();
    let em = this.#forks.get(contextName);
    if (!em) {
      em = this.orms.orm(contextName).em.fork({ disableContextResolution: true });
      this.#forks.set(contextName, em);
    }
    return em;
  }
}
