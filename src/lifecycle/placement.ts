import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { type TenantPlacementPolicy, type TenantServerLoad, serverOfRecord } from '../options/tenant-servers.js';
import { TenancyUsageError } from '../errors/options.errors.js';

/** The default placement: the open server with the fewest tenants (the first listed on a tie). */
export const fewestTenants: TenantPlacementPolicy = ({ servers }) => {
  const open = servers.filter((server) => !server.closedToNewTenants);
  const [least] = [...open].sort((a, b) => a.tenants - b.tenants);
  if (!least) throw new TenancyUsageError('Every server in tenancy.servers is closedToNewTenants: open one, or name the server of the new tenant.');
  return least.name;
};

/**
 * The server of a tenant about to be created: for a registered tenant, the one it lives on (asking for another is
 * refused: that is a move); otherwise the one asked for, or the placement policy's choice. Undefined without
 * `tenancy.servers`. A name that is not configured is refused.
 */
export async function placeTenant<T extends TenantRecord>(tenants: TenantRuntime<T>, tenant: T, registered: T | undefined, asked: string | undefined): Promise<string | undefined> {
  const { servers, placement, contextName } = tenants.options;
  if (!servers) {
    if (asked === undefined) return undefined;
    throw new TenancyUsageError(`Cannot place tenant '${tenant.id}' on server '${asked}': tenant context '${contextName}' configures no tenancy.servers.`);
  }
  if (registered) {
    const current = serverOfRecord(servers, registered);
    if (asked !== undefined && asked !== current) {
      throw new TenancyUsageError(`Tenant '${tenant.id}' is registered on server '${current}', not '${asked}': move it with TenantLifecycle.move (mikro-tenancy tenant move).`);
    }
    return registered.server ?? undefined;
  }
  const chosen = asked ?? (await (placement ?? (fewestTenants as TenantPlacementPolicy<T>))({ tenant, servers: await loadOf(tenants) }));
  if (typeof chosen !== 'string' || !servers.has(chosen)) {
    const source = asked !== undefined ? 'the server asked for' : 'tenancy.placement returned a server that';
    throw new TenancyUsageError(`Cannot place tenant '${tenant.id}': ${source} is not in tenancy.servers (configured: ${[...servers.keys()].join(', ')}).`);
  }
  return chosen;
}

/** Tenants per server, from the store's list (a record naming no server counts for the first server). */
async function loadOf<T extends TenantRecord>(tenants: TenantRuntime<T>): Promise<TenantServerLoad[]> {
  const servers = tenants.options.servers as ReadonlyMap<string, { closedToNewTenants?: boolean }>;
  const counts = new Map<string, number>([...servers.keys()].map((name) => [name, 0]));
  for (const record of await tenants.store.list()) {
    const name = serverOfRecord(servers, record);
    if (counts.has(name)) counts.set(name, (counts.get(name) as number) + 1);
  }
  return [...servers].map(([name, server]) => ({ name, tenants: counts.get(name) as number, closedToNewTenants: server.closedToNewTenants === true }));
}
