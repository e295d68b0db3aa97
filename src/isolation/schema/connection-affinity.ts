import type { ContextConfig } from '../../options/tenancy-options.js';
import { withPoolHook } from '../pool-hook.js';

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
 * which then wrap this `connect`. Work without a tenant (schema checks, health pings) takes the least busy group, so
 * one busy tenant cannot starve it. `max` and `min` are split between the groups (they add up to the pool's); a pool
 * smaller than `groups` gets one group per connection.
 */
export function withConnectionAffinity(config: ContextConfig, groups: number, currentTenantId: () => string | undefined): ContextConfig {
  return withPoolHook<PgPool>(config, (pool) => splitIntoGroups(pool, groups, currentTenantId));
}

function splitIntoGroups(pool: PgPool, groups: number, currentTenantId: () => string | undefined): void {
  const { max, min = 0 } = pool.options as { max: number; min?: number };
  // a server's pool may be smaller than the groups asked for (tenancy.servers.*.pool): never more connections than max
  const count = Math.max(1, Math.min(groups, max));
  const Pool = pool.constructor;
  const members = Array.from({ length: count }, (_, i) => new Pool({ ...pool.options, max: shareOf(max, count, i), min: shareOf(min, count, i) }));
  for (const member of members) {
    for (const event of ['connect', 'acquire', 'release', 'remove', 'error'] as const) member.on(event, (...args) => pool.emit(event, ...args));
  }
  pool.connect = (...args: unknown[]) => {
    const tenantId = currentTenantId();
    // work of no tenant (health checks, a tenant's schema check before its first request) takes the least busy group
    const member = tenantId === undefined ? leastBusy(members) : (members[groupOf(tenantId, count)] as PgPool);
    return member.connect(...args);
  };
  const end = pool.end.bind(pool);
  pool.end = async () => {
    await Promise.all(members.map((member) => member.end()));
    await end();
  };
  for (const counter of ['totalCount', 'idleCount', 'waitingCount'] as const) {
    Object.defineProperty(pool, counter, { configurable: true, get: () => members.reduce((sum, member) => sum + member[counter], 0) });
  }
}

/** Member i's share of `total` split over `count` members: the remainder goes to the first ones, so the shares add up. */
function shareOf(total: number, count: number, i: number): number {
  return Math.floor(total / count) + (i < total % count ? 1 : 0);
}

/** The group that can hand out a connection soonest: the most idle or not yet opened connections, less its waiters. */
function leastBusy(members: PgPool[]): PgPool {
  const free = (member: PgPool) => member.idleCount + member.options.max - member.totalCount - member.waitingCount;
  return members.reduce((best, member) => (free(member) > free(best) ? member : best));
}

/** A tenant's group: FNV-1a of its id, so every instance and every restart agree. */
export function groupOf(tenantId: string, groups: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) hash = Math.imul(hash ^ tenantId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % groups;
}
