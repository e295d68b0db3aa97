import type { MikroORM } from '@mikro-orm/core';
import type { SharedTablesOptions } from '../options/tenancy-options.js';
import { SHARED_TIER_SCHEMA } from '../options/tokens.js';
import { moveSideOf } from '../isolation/move/move-sql.js';
import type { SharedTierRows } from '../isolation/move/shared-tier-rows.js';
import { FENCED_TENANT_TABLE } from '../isolation/schema/fenced-tenant.entity.js';
import { FENCE_CLEANUP_SETTING, fenceFunctionSql, mixedTierSchemaPrelude } from '../isolation/schema/mixed-tier-functions.js';
import { DROPPED_TENANT_TABLE } from '../isolation/table/dropped-tenant.entity.js';
import { tenantSessionTag } from '../isolation/table/session-tag.js';
import { migrateTenant } from './migrate-tenant.js';

/** A tenant's rows in the shared tier of one server, reached through `orm` (the shared tier's database, migration role). */
export function sharedTierRowsOf(orm: MikroORM, tenantId: string, shared: Required<SharedTablesOptions>): SharedTierRows {
  return {
    side: moveSideOf(orm),
    tenantId,
    schema: SHARED_TIER_SCHEMA,
    column: shared.column,
    setting: shared.setting,
    fenceTable: FENCED_TENANT_TABLE,
    libraryTables: [FENCED_TENANT_TABLE, DROPPED_TENANT_TABLE],
    sessionTag: tenantSessionTag(tenantId),
    cleanupSetting: FENCE_CLEANUP_SETTING,
  };
}

/**
 * The staging schema of a move between the shared tier and a schema of the tenant's own, in the database the rows
 * go to (replication applies changes by schema-qualified table name): out of the shared tier, the shared schema's
 * name in the target database; into it, the tenant schema's name in the shared tier's database. With the tenant's
 * constant `nmt_tenant()` and its migrations, marked as the tenant's (so a second tenant's move into the same
 * database is refused until this one ends).
 */
export async function migrateStaging(orm: MikroORM, contextName: string, tenantId: string, shared: Required<SharedTablesOptions>, schema: string): Promise<void> {
  await migrateTenant(orm, 'up', {
    tenantId,
    lockKey: `nestjs-mikro-tenancy:${contextName}:${tenantId}`,
    schema,
    before: mixedTierSchemaPrelude(schema, { tenantId }, shared),
    label: `the staging schema "${schema}" of tenant '${tenantId}' (its move between the shared tier and a schema of its own)`,
  });
}

/** Once the staging schema has the tenant schema's name: its fence function names its own fence table again. */
export function afterStagingRenamed(schema: string, shared: Required<SharedTablesOptions>): string[] {
  return [fenceFunctionSql(schema, shared.column)];
}

/**
 * The shared tier's connection string for CREATE SUBSCRIPTION: its database, and the tenant's setting as a session
 * option, so the table-sync workers' COPY passes the tables' forced row-level security (without it they copy
 * nothing). libpq takes the last value of a repeated keyword, so both win over the server's own string. Tenant ids
 * are validated identifiers; spaces and backslashes are escaped for `options` anyway.
 */
export function sharedTierConninfo(conninfo: string, dbName: string, setting: string, tenantId: string): string {
  const quote = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  const option = `-c ${setting}=${tenantId.replaceAll('\\', '\\\\').replaceAll(' ', '\\ ')}`;
  return `${conninfo} dbname=${quote(dbName)} options=${quote(option)}`;
}
