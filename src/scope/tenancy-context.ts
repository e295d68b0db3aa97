import { AsyncLocalStorage } from 'node:async_hooks';
import { type EntityManager, RequestContext } from '@mikro-orm/core';
import { NoTenantContextError } from '../errors/tenant.errors.js';
import type { StaticContexts, TenantRecord } from '../tenants/tenant-store.js';
import type { ActiveTenant } from './active-tenant.js';
import type { RequestScope } from './request-scope.js';

/** MikroORM's `context` option: finds the EntityManager fork of the current request for one ORM. */
export type ContextResolver = (name: string) => EntityManager | undefined;

/**
 * The per-request async context of one module instance (two apps in one process never see each other's).
 * Static ORMs find their request fork through `resolverFor`, plugged into MikroORM's own `context` option, so
 * `orm.em` injected as a singleton works exactly as with @mikro-orm/nestjs.
 */
export class TenancyContext {
  readonly #storage = new AsyncLocalStorage<RequestScope>();

  run<R>(scope: RequestScope, fn: () => R): R {
    return this.#storage.run(scope, fn);
  }

  get scope(): RequestScope | undefined {
    return this.#storage.getStore();
  }

  currentTenant<T extends TenantRecord = TenantRecord>(): ActiveTenant<T> | undefined {
    return this.#storage.getStore()?.tenant as ActiveTenant<T> | undefined;
  }

  /** The current tenant's fork; throws (never falls back to another database or schema) when there is none. */
  tenantEm(contextName: string): EntityManager {
    const tenant = this.#storage.getStore()?.tenant;
    if (!tenant) throw new NoTenantContextError(contextName);
    return tenant.em;
  }

  /**
   * Resolution order: a MikroORM RequestContext made for this very ORM (`@CreateRequestContext`,
   * `RequestContext.create`), then this module's request scope. Transactions are handled by MikroORM before this.
   */
  resolverFor(contextName: string, orms: StaticContexts): ContextResolver {
    return (name) => {
      const explicit = RequestContext.getEntityManager(name);
      if (explicit && explicit.config === orms.orm(contextName).config) return explicit;
      return this.#storage.getStore()?.fork(contextName);
    };
  }
}
