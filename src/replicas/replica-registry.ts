import type { ReplicaStatus } from './replica-status.js';

/** What the registry needs of a ReplicaRouter. */
interface Router {
  readonly group: string;
  readonly label: string;
  status(): ReplicaStatus[];
}

/**
 * The read-replica routers of one module instance that have begun checking their replicas, for the health indicator.
 * A router joins on its first check (so ORMs that never read from a replica, such as migration ORMs, never show) and
 * leaves when its ORM closes (a tenant database evicted from the pool).
 */
export class ReplicaRegistry {
  readonly #routers = new Set<Router>();

  add(router: Router): void {
    this.#routers.add(router);
  }

  delete(router: Router): void {
    this.#routers.delete(router);
  }

  /** Each ORM of `group` (a context name) with its replicas' status, by the ORM's context name (`tenant:acme`). */
  report(group: string): Record<string, ReplicaStatus[]> {
    const report: Record<string, ReplicaStatus[]> = {};
    for (const router of this.#routers) if (router.group === group) report[router.label] = router.status();
    return report;
  }
}
