import type { EntityMetadata, EntityProperty, MetadataStorage, Platform, TriggerDef } from '@mikro-orm/core';
import { createHash } from 'node:crypto';
import type { ContextConfig, SharedTablesOptions } from '../../options/tenancy-options.js';
import { InvalidTenancyOptionsError } from '../../errors/options.errors.js';
import { DroppedTenantSchema } from '../table/dropped-tenant.entity.js';
import { type TenantColumnScoping, sharedTableDiscovery, withLibraryTables } from '../table/shared-table-metadata.js';
import { quoteIdent } from '../move/move-sql.js';
import { FencedTenantSchema, isFencedTenantTable } from './fenced-tenant.entity.js';
import { tenantDiscovery } from './tenant-discovery.js';

/**
 * The SQL function each schema of a mixed-tier app defines (provisioning creates it before the first migration):
 * in a tenant's own schema or database it returns that tenant's id as a constant, in the shared tier's schema it
 * reads the transaction's tenant setting. One set of migrations then means the right thing in every tier.
 */
export const TENANT_FUNCTION = 'nmt_tenant';
/** The trigger function (one per schema, made by provisioning) that refuses writes of a fenced tenant. */
export const FENCE_FUNCTION = 'nmt_refuse_fenced';
/** The fence trigger's name on every tenant table. */
export const FENCE_TRIGGER = 'nmt_fence';
/** How the name of every tenant table's `(tenant, primary key)` unique index ends. */
export const TENANT_KEY_UNIQUE_SUFFIX = '_tenant_key_unique';

/** `<table>_tenant_key_unique`, within PostgreSQL's 63 bytes: a long table name is cut and given a hash of itself. */
export function tenantKeyUniqueName(tableName: string): string {
  const name = `${tableName}${TENANT_KEY_UNIQUE_SUFFIX}`;
  if (Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha1').update(tableName).digest('hex').slice(0, 8);
  return `${Buffer.from(tableName).subarray(0, 63 - TENANT_KEY_UNIQUE_SUFFIX.length - 9).toString().replace(/\uFFFD+$/, '')}_${hash}${TENANT_KEY_UNIQUE_SUFFIX}`;
}

/**
 * Mixed tiers' scoping (docs/internals/mixed-tiers.md, 4.2): the tenant column, filter and policies of the shared
 * tables on every tenant table of every tier, so a row is the same row wherever its tenant lives and logical
 * replication can copy it between tiers by column name. Compared with table mode:
 * - the column's default and the policies call `nmt_tenant()` instead of reading the setting: in a tenant's own
 *   schema the policies are trivially true and need no setting, hence no transaction per query;
 * - generated pivot tables carry the tenant column too (a replication row filter admits no subquery);
 * - a unique `(tenant, primary key)` index on every table (the shared tables' replica identity once a tenant's rows
 *   are published: without it every other tenant's UPDATE and DELETE on the table fails);
 * - the fence trigger, which refuses a fenced tenant's writes in the shared tables while it moves.
 */
export function mixedTierScoping(): TenantColumnScoping {
  return {
    tenantSql: `${TENANT_FUNCTION}()`,
    pivotColumn: true,
    tenantKeyUnique: tenantKeyUniqueName,
    triggers: (meta) => [fenceTrigger(meta)],
    ownTables: isFencedTenantTable,
  };
}

/**
 * Discovery of every ORM on the tenant entities in a mixed-tier app: the serving and migration ORMs with
 * `wildcardSchema` (each fork or migration names its schema), the migration generator without it (MikroORM leaves
 * wildcard-schema tables out of generated migrations).
 */
export function mixedTierDiscovery(
  template: ContextConfig,
  contextName: string,
  shared: Required<SharedTablesOptions>,
  onUniqueWithoutTenant: (entity: string, columns: string[]) => void,
  { wildcardSchema }: { wildcardSchema: boolean },
): ContextConfig['discovery'] {
  const scoped = sharedTableDiscovery(template, contextName, shared, onUniqueWithoutTenant, mixedTierScoping());
  const userAfterDiscovered = scoped?.afterDiscovered;
  const checked: ContextConfig['discovery'] = {
    ...scoped,
    afterDiscovered: async (storage: MetadataStorage, platform: Platform) => {
      refuseSerialKeys(storage, contextName, shared.property);
      await userAfterDiscovered?.(storage, platform);
    },
  };
  return wildcardSchema ? tenantDiscovery({ ...template, discovery: checked }, contextName) : checked;
}

/**
 * The discovery (and entities) of an ORM on the tenant entities of schema isolation: wildcard-schema entities (the
 * serving and migration ORMs) or as declared (the migration generator); with `mixedTier` (tenancy.sharedTier), the
 * mixed tiers' metadata on top, the same in every tier.
 */
export function schemaModeMetadata(
  template: ContextConfig,
  contextName: string,
  mixedTier: Required<SharedTablesOptions> | undefined,
  { wildcardSchema, onUniqueWithoutTenant = () => undefined }: { wildcardSchema: boolean; onUniqueWithoutTenant?: (entity: string, columns: string[]) => void },
): Pick<ContextConfig, 'discovery' | 'entities' | 'entitiesTs'> {
  if (!mixedTier) return wildcardSchema ? { discovery: tenantDiscovery(template, contextName) } : {};
  return { ...withMixedTierTables(template), discovery: mixedTierDiscovery(template, contextName, mixedTier, onUniqueWithoutTenant, { wildcardSchema }) };
}

/** The template's entities plus the tables of dropped and fenced tenants, part of every tier's migrations. */
export function withMixedTierTables(template: ContextConfig): Pick<ContextConfig, 'entities' | 'entitiesTs'> {
  return withLibraryTables(template, [DroppedTenantSchema, FencedTenantSchema]);
}

/**
 * Created with the table by the tenant migrations, which run with the schema's search_path: the unqualified
 * function is bound to the schema's own when the trigger is created.
 */
function fenceTrigger(meta: EntityMetadata): TriggerDef {
  return {
    name: FENCE_TRIGGER,
    timing: 'before',
    events: ['insert', 'update', 'delete'],
    forEach: 'row',
    expression: `create trigger ${quoteIdent(FENCE_TRIGGER)} before insert or update or delete on ${quoteIdent(meta.tableName)} for each row execute function ${FENCE_FUNCTION}()`,
  };
}

/**
 * A tenant's rows keep their primary keys when they move into the shared tables, where every tenant's rows meet:
 * keys a sequence per schema hands out (1, 2, 3...) would collide there. Refused at boot, naming the fix.
 */
function refuseSerialKeys(storage: MetadataStorage, contextName: string, tenantProperty: string): void {
  const problems: string[] = [];
  for (const meta of storage.getAll().values()) {
    if (meta.embeddable || meta.virtual || meta.pivotTable || isFencedTenantTable(meta) || (meta.root !== undefined && meta.root !== meta)) continue;
    if (!meta.properties[tenantProperty]) continue;
    for (const pk of meta.primaryKeys) {
      const prop = meta.properties[pk] as EntityProperty | undefined;
      if (prop?.autoincrement) {
        problems.push(
          `tenant context '${contextName}': ${meta.className}.${String(pk)} is a generated serial key, and tenants move ` +
            `between their own schema and the shared tables, where two tenants' serial keys collide. Use keys unique ` +
            `across tenants: @PrimaryKey({ type: 'uuid' }) ${String(pk)} = randomUUID() (node:crypto), or keys your app makes`,
        );
      }
    }
  }
  if (problems.length) throw new InvalidTenancyOptionsError(problems);
}
