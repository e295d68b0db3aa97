import type { TenancyOptions } from './tenancy-options.js';
import type { TenantServerOptions } from './tenant-servers.js';

const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const POOL_KEYS = ['maxOpenTenants', 'idleTimeoutMs', 'acquireTimeoutMs', 'connectionsPerTenant'] as const;

/** `tenancy.servers` and `tenancy.placement`: every problem, each naming the server and the fix. */
export function serversProblems(tenancy: TenancyOptions, label: string): string[] {
  return [...databaseTierProblems(tenancy, label), ...serverListProblems(tenancy, label)];
}

function databaseTierProblems(tenancy: TenancyOptions, label: string): string[] {
  const tier = tenancy.databaseTier;
  if (tier === undefined) return [];
  if (tenancy.isolation !== 'schema') return [`${label}: databaseTier applies to isolation 'schema' only (database isolation already gives every tenant a database)`];
  if (typeof tier !== 'object' || tier === null) return [`${label}: databaseTier must be an object ({ dbName?: (tenant) => string })`];
  return tier.dbName !== undefined && typeof tier.dbName !== 'function' ? [`${label}: databaseTier.dbName must be a function (tenant) => database name`] : [];
}

function serverListProblems(tenancy: TenancyOptions, label: string): string[] {
  const { servers, placement } = tenancy;
  if (placement !== undefined && typeof placement !== 'function') return [`${label}: placement must be a function ({ tenant, servers }) => server name`];
  if (servers === undefined) return placement === undefined ? [] : [`${label}: placement needs tenancy.servers (the servers to place tenants on)`];
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers)) return [`${label}: servers must be an object of named servers ({ eu1: { host, port }, ... })`];
  const entries = Object.entries(servers);
  if (!entries.length) return [`${label}: servers is empty; name at least one server, or leave servers out`];
  if (tenancy.isolation === 'table') return [`${label}: servers is not supported with isolation 'table' yet (shared tables live on one server)`];
  const problems: string[] = [];
  for (const [name, server] of entries) problems.push(...serverProblems(`${label}: servers.${name}`, name, server));
  if (placement === undefined && entries.every(([, server]) => server?.closedToNewTenants === true)) {
    problems.push(`${label}: every server is closedToNewTenants, so the default placement has nowhere to put a new tenant; open one, or give a placement function`);
  }
  return problems;
}

function serverProblems(label: string, name: string, server: TenantServerOptions | undefined): string[] {
  if (!SERVER_NAME.test(name)) return [`${label}: a server name uses letters, digits, '_' or '-' (at most 63, starting with a letter or digit)`];
  if (!server || typeof server !== 'object') return [`${label}: expected connection options ({ host, port } or { clientUrl })`];
  const problems: string[] = [];
  if (server.clientUrl !== undefined && !parses(server.clientUrl)) problems.push(`${label}: clientUrl is not a valid URL`);
  if (server.port !== undefined && (!Number.isInteger(server.port) || server.port < 1 || server.port > 65_535)) problems.push(`${label}: port must be a TCP port number`);
  for (const key of ['host', 'user', 'password', 'dbName'] as const) {
    if (server[key] !== undefined && typeof server[key] !== 'string') problems.push(`${label}: ${key} must be a string`);
  }
  for (const key of POOL_KEYS) {
    const value = server.tenantPool?.[key];
    if (value !== undefined && (!Number.isInteger(value) || value < (key === 'idleTimeoutMs' || key === 'acquireTimeoutMs' ? 0 : 1))) problems.push(`${label}: tenantPool.${key} must be a positive integer`);
  }
  return problems;
}

function parses(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

/** The servers in their configured order (the first holds tenants whose record names none); undefined: one server. */
export function normalizeServers(tenancy: TenancyOptions): ReadonlyMap<string, TenantServerOptions> | undefined {
  return tenancy.servers && new Map(Object.entries(tenancy.servers));
}
