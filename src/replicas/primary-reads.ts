import type { EntityManager } from '@mikro-orm/core';
import { replicaRouterOf } from './replica-driver.js';

/**
 * Sends every later read of the current unit of work (the request, `TenancyService.run()`, or a MikroORM
 * `RequestContext`) on `em`'s context to the primary, as a write would: for reads that must see data written
 * elsewhere just before (another service, another app instance, a job that just finished). `em` is any
 * EntityManager of the context: an injected one (static or tenant), a fork, or a repository's `getEntityManager()`.
 *
 * Nothing to do for a context without read replicas, or outside a unit of work (where every read goes to the primary).
 * For one query only, MikroORM's own `connectionType: 'write'` find option does the same without pinning.
 */
export function pinToPrimary(em: EntityManager): void {
  replicaRouterOf(em.getDriver())?.pin();
}

/** Whether the current unit of work's reads on `em`'s context go to the primary (always true without replicas). */
export function isPinnedToPrimary(em: EntityManager): boolean {
  return replicaRouterOf(em.getDriver())?.isPinned() ?? true;
}
