import type { ContextConfig } from '../../options/tenancy-options.js';

/** The parts of node-postgres' Pool this file relies on (pg-pool 3: `options` is public, as are the counters). */
interface PgPool {
  readonly options: Record<string, unknown> & { max: number };
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  constructor: new (options: Record<string, unknown>) => PgPool;
  on(event: 'connect' | 'error' | 'acquire' | 'release' | 'remove', listener: (...args: unknown[]) => void): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  connect(...args: unknown[]): unknown;
  end(...args: unknown[]): unknown;
}

/**
 * Tenant-affine connections for schema isolation (`tenancy.connectionAffinity`). One pool serves every tenant schema,
 * and a PostgreSQL backend caches the catalog (relations, columns, indexes) of every schema it has served: at a
 * thousand tenants each connection ends up caching a thousand schemas, and spends its time filling caches. Here the
 * pool MikroORM creates is split into `groups` pools of max/groups connections, and a unit of work takes its
 * connections from its tenant's group (a hash of the tenant id), so each backend serves about 1/groups of the
 * tenants. The price: one tenant's work can use at most max/groups connections at once.
 *
 * MikroORM hands the pool it created to `onPoolCreated` (driverOptions) before anything uses it; its `connect` is
 * replaced by one that asks the tenant's group, and the groups' events are re-emitted on it, so the listeners
 * MikroORM and the pool guards put on that pool see every connection. Runs before the other `onPoolCreated` hooks,
 * which then wrap this `connect`. Work without a tenant (schema checks, health pings) uses the first group.
 */
export function withConnectionAffinity(config: ContextConfig, groups: number, currentTenantId: () => string | undefined): ContextConfig {
  const driverOptions = (config.driverOptions ?? {}) as Record<string, unknown>;
  const next = driverOptions.onPoolCreated as ((pool: PgPool) => unknown) | undefined;
  return {
    ...config,
    driverOptions: {
      ...driverOptions,
      onPoolCreated: (pool: PgPool) => {
        splitIntoGroups(pool, groups, currentTenantId);
        return next?.(pool);
      },
    },
  };
}

function splitIntoGroups(pool: PgPool, groups: number, currentTenantId: () => string | undefined): void {
  const perGroup = Math.max(1, Math.floor(pool.options.max / groups));
  const Pool = pool.constructor;
  const members = Array.from({ length: groups }, () => new Pool({ ...pool.options, max: perGroup }));
  for (const member of members) {
    for (const event of ['connect', 'acquire', 'release', 'remove', 'error'] as const) member.on(event, (...args) => pool.emit(event, ...args));
  }
  pool.connect = (...args: unknown[]) => (members[groupOf(currentTenantId(), groups)] as PgPool).connect(...args);
  const end = pool.end.bind(pool);
  pool.end = async () => {
    await Promise.all(members.map((member) => member.end()));
    await end();
  };
  for (const counter of ['totalCount', 'idleCount', 'waitingCount'] as const) {
    Object.defineProperty(pool, counter, { configurable: true, get: () => members.reduce((sum, member) => sum + member[counter], 0) });
  }
}

/** A tenant's group: FNV-1a of its id, so every instance and every restart agree. */
export function groupOf(tenantId: string | undefined, groups: number): number {
  if (tenantId === undefined) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) hash = Math.imul(hash ^ tenantId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % groups;
}
