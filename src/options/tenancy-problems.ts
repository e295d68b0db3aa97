import type { SharedTablesOptions, TenancyOptions } from './tenancy-options.js';
import { databaseNameOf } from './database-name.js';
import type { TenantStore } from '../tenants/tenant-store.js';

/** Problems of the shared-tables, change-sharing and connection-affinity options of `tenancy` (see options-validation.ts). */

const CHANNEL = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const COLUMN = /^[a-z_][a-z0-9_]{0,62}$/;
const DATABASE = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;
const PROPERTY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** A custom setting: two or more dotted parts (PostgreSQL requires the prefix), each a plain identifier. */
const SETTING = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)+$/;

export function sharedTablesProblems(tenancy: TenancyOptions, label: string): string[] {
  const shared = tenancy.sharedTables;
  if (shared === undefined) return [];
  if (tenancy.isolation !== 'table') return [`${label}: sharedTables applies to isolation 'table' only`];
  return tenantColumnProblems(shared, `${label}: sharedTables`);
}

/** Schema isolation's shared tier: the tenant column's options (as sharedTables) and the database of its tables. */
export function sharedTierProblems(tenancy: TenancyOptions, label: string): string[] {
  const tier = tenancy.sharedTier;
  if (tier === undefined) return [];
  if (tenancy.isolation !== 'schema') return [`${label}: sharedTier applies to isolation 'schema' only (isolation 'table' shares every tenant's tables already)`];
  if (typeof tier !== 'object' || tier === null) return [`${label}: sharedTier must be an object ({ dbName?, column?, property?, type?, setting?, uniques?, bypassingRole? })`];
  const problems = tenantColumnProblems(tier, `${label}: sharedTier`);
  if ('rowLevelSecurity' in tier) problems.push(`${label}: sharedTier takes no rowLevelSecurity: the shared tier's row-level security is always on`);
  const tenantDatabase = databaseNameOf(tenancy.config);
  if (tier.dbName === undefined) {
    if (tenantDatabase === undefined) problems.push(`${label}: sharedTier needs a dbName (the database of the shared tables) when tenancy.config names no database`);
  } else if (typeof tier.dbName !== 'string' || !DATABASE.test(tier.dbName)) {
    problems.push(`${label}: sharedTier.dbName must be a database name (letters, digits, '_', '$' or '-'; at most 63)`);
  } else if (tier.dbName === tenantDatabase) {
    problems.push(`${label}: sharedTier.dbName must not be the tenant database ('${tier.dbName}'): give the shared tables a database of their own, e.g. '${tier.dbName}_shared'`);
  }
  return problems;
}

/** The tenant column's options, shared by table isolation and the shared tier. */
function tenantColumnProblems(shared: Omit<SharedTablesOptions, 'rowLevelSecurity'>, label: string): string[] {
  const problems: string[] = [];
  if (shared.column !== undefined && !COLUMN.test(shared.column)) problems.push(`${label}.column must be a lower-case column name (letters, digits, '_'; at most 63)`);
  if (shared.property !== undefined && !PROPERTY.test(shared.property)) problems.push(`${label}.property must be a property name`);
  if (shared.type !== undefined && !['text', 'uuid', 'int', 'bigint'].includes(shared.type)) problems.push(`${label}.type must be 'text', 'uuid', 'int' or 'bigint'`);
  if (shared.setting !== undefined && !SETTING.test(shared.setting)) problems.push(`${label}.setting must be a dotted lower-case name such as 'app.tenant_id'`);
  if (shared.uniques !== undefined && shared.uniques !== 'per-tenant' && shared.uniques !== 'as-declared') problems.push(`${label}.uniques must be 'per-tenant' or 'as-declared'`);
  if (shared.bypassingRole !== undefined && shared.bypassingRole !== 'refuse' && shared.bypassingRole !== 'warn') problems.push(`${label}.bypassingRole must be 'refuse' or 'warn'`);
  return problems;
}

export function changesProblems(tenancy: TenancyOptions, label: string): string[] {
  const changes = tenancy.changes;
  if (changes === undefined || changes === false) return [];
  if (typeof changes !== 'object' || changes === null) return [`${label}: changes must be an object or false`];
  const problems: string[] = [];
  if (changes.channel !== undefined && !CHANNEL.test(changes.channel)) problems.push(`${label}: changes.channel must be letters, digits or '_' (at most 63, not starting with a digit)`);
  if (changes.context === undefined && storeContextOf(tenancy.store) === undefined) {
    problems.push(`${label}: changes needs a context (changes.context: the static context whose PostgreSQL database carries the notifications)`);
  }
  return problems;
}

/** The static context a store keeps its tenants in (TenantStores.table), if it says. */
export function storeContextOf(store: TenantStore | undefined): string | undefined {
  return typeof store?.contextName === 'string' ? store.contextName : undefined;
}

/** `connectionAffinity`: schema isolation only, and no more groups than the pool has connections. */
export function affinityProblems(tenancy: TenancyOptions, label: string): string[] {
  if (tenancy.connectionAffinity === undefined) return [];
  const groups = tenancy.connectionAffinity?.groups;
  const max = tenancy.config?.pool?.max ?? 10;
  if (tenancy.isolation !== 'schema') return [`${label}: connectionAffinity applies to schema isolation only (database isolation already gives each tenant its own pool)`];
  if (!Number.isInteger(groups) || groups < 1) return [`${label}: connectionAffinity.groups must be a whole number, 1 or more`];
  if (groups > max) return [`${label}: connectionAffinity.groups (${groups}) is more than config.pool.max (${max}); each group needs a connection of its own`];
  return [];
}
