import type { EntityMetadata, EntityProperty, EntitySchema, MetadataStorage, Platform, TriggerDef } from '@mikro-orm/core';
import type { ContextConfig, SharedTablesOptions } from '../../options/tenancy-options.js';
import { InvalidTenancyOptionsError } from '../../errors/options.errors.js';
import { DROPPED_TENANT_TABLE, isDroppedTenantTable } from './dropped-tenant.entity.js';

/** The ORM filter that scopes every tenant entity to the fork's tenant (params: `{ id }`). */
export const TENANT_FILTER = 'tenant';

const CASTS: Record<Required<SharedTablesOptions>['type'], string> = { text: '', uuid: '::uuid', int: '::int', bigint: '::bigint' };

/**
 * Where the current tenant comes from in SQL, and what the tenant tables carry besides the column, filter and
 * policies. Table mode reads the transaction's setting; mixed tiers (mixed-tier-metadata.ts) a per-schema function
 * and add what moving a tenant between tiers needs.
 */
export interface TenantColumnScoping {
  /** SQL for the current tenant's id: the column's default, and what the policies compare the column with. */
  tenantSql: string;
  /** Generated pivot tables get the tenant column too (own-column policy, unique `(tenant, a, b)`). */
  pivotColumn: boolean;
  /** Every tenant table gets a unique index `(tenant, primary key)`, of this name (off when undefined). */
  tenantKeyUnique?: (tableName: string) => string;
  /** Triggers every tenant table carries (replacing any of the same name). */
  triggers: (meta: EntityMetadata) => TriggerDef[];
  /** Tables of the library's own that are never tenant tables (besides the dropped tenants'). */
  ownTables: (meta: EntityMetadata) => boolean;
}

/** Table mode's scoping: the setting each fork's session context sets per transaction. */
export function settingScoping(shared: Required<SharedTablesOptions>): TenantColumnScoping {
  return {
    tenantSql: `nullif(current_setting('${shared.setting}', true), '')${CASTS[shared.type]}`,
    pivotColumn: false,
    triggers: () => [],
    ownTables: () => false,
  };
}

/**
 * Table mode's metadata, set at discovery so MikroORM does the scoping itself:
 * - every tenant entity gets the tenant column (a hidden property, unless it declares one), whose database default
 *   is the tenant setting of the transaction: an insert that leaves it out (em.insert, QueryBuilder, raw SQL) is
 *   filled in by PostgreSQL;
 * - an entity filter, on by default, `where <column> = <the fork's tenant>`, which MikroORM applies to find, count,
 *   populate (every strategy), relation conditions, nativeUpdate and nativeDelete;
 * - with row-level security, a policy per table (forced on the table owner too) that lets a row be read or written
 *   only when its column equals the transaction's tenant setting: no setting, no rows; a written row must also
 *   reference only the tenant's rows. Generated pivot tables have no tenant column: their policy admits a row only
 *   when both rows it links are the tenant's.
 * Unique constraints get the tenant column (`uniques: 'per-tenant'`, the default), so they mean what they mean in
 * the other modes; those that still leave it out (`'as-declared'`, or an expression) are reported
 * (`onUniqueWithoutTenant`): one tenant's values would collide with another's and tell it the value exists elsewhere.
 */
export function sharedTableDiscovery(
  template: ContextConfig,
  contextName: string,
  shared: Required<SharedTablesOptions>,
  onUniqueWithoutTenant: (entity: string, columns: string[]) => void,
  scoping: TenantColumnScoping = settingScoping(shared),
): ContextConfig['discovery'] {
  const userOnMetadata = template.discovery?.onMetadata;
  const userAfterDiscovered = template.discovery?.afterDiscovered;
  const tenant = scoping.tenantSql;
  const libraryTable = (meta: EntityMetadata) => isDroppedTenantTable(meta) || scoping.ownTables(meta);
  const matches = `${quote(shared.column)} = ${tenant}`;
  // a dropped tenant writes nothing more (see dropped-tenant.entity.ts)
  const notDropped = `not exists (select 1 from ${quote(DROPPED_TENANT_TABLE)} d where d."tenant_id" = ${tenant}::text)`;
  return {
    ...template.discovery,
    onMetadata: async (meta: EntityMetadata, platform: Platform) => {
      await userOnMetadata?.(meta, platform);
      if (meta.embeddable || meta.virtual || libraryTable(meta)) return;
      addTenantProperty(meta, shared, contextName, tenant);
      if (shared.uniques === 'per-tenant') scopeUniques(meta, shared.property);
      meta.filters[TENANT_FILTER] = { name: TENANT_FILTER, cond: (args: { id: string }) => ({ [shared.property]: args.id }), default: true };
    },
    afterDiscovered: async (storage: MetadataStorage, platform: Platform) => {
      const tenantProperty = scoping.pivotColumn ? initialisedTenantProperty(storage, shared.property) : undefined;
      for (const meta of storage.getAll().values()) {
        if (shared.rowLevelSecurity && libraryTable(meta)) ownRowsOnly(meta, tenant);
        if (!meta.embeddable && !meta.virtual) keepTenantFilterOffInverseOneToOne(meta, shared.property);
        if (meta.embeddable || meta.virtual || libraryTable(meta) || (meta.root !== undefined && meta.root !== meta)) continue;
        if (tenantProperty && meta.pivotTable && !meta.properties[shared.property]) addPivotTenantProperty(meta, tenantProperty);
        if (meta.properties[shared.property]) reportUniques(meta, shared, onUniqueWithoutTenant);
        if (meta.properties[shared.property]) addTenantKeyUnique(meta, shared.property, scoping);
        const triggers = scoping.triggers(meta);
        if (triggers.length) meta.triggers = [...(meta.triggers ?? []).filter((t) => !triggers.some((own) => own.name === t.name)), ...triggers];
        if (!shared.rowLevelSecurity) continue;
        const own = meta.properties[shared.property] ? matches : undefined;
        const references = referenceChecks(meta);
        const using = own ?? (meta.pivotTable ? references : undefined);
        if (using === undefined) continue;
        // written rows must also reference only rows of the tenant (foreign key checks do not see policies)
        const check = [own && `${own} and ${notDropped}`, references].filter(Boolean).join(' and ') || using;
        meta.rowLevelSecurity = 'force';
        meta.policies = [...(meta.policies ?? []).filter((p) => p.name !== policyName(meta)), { name: policyName(meta), using, check }];
      }
      await userAfterDiscovered?.(storage, platform);
    },
  };
}

function addTenantProperty(meta: EntityMetadata, shared: Required<SharedTablesOptions>, contextName: string, tenantSql: string): void {
  const declared = meta.properties[shared.property] as EntityProperty | undefined;
  if (declared) {
    const column = declared.fieldNames?.[0] ?? declared.name;
    if (declared.fieldNames?.length && column !== shared.column) {
      throw new InvalidTenancyOptionsError([
        `tenant context '${contextName}': ${meta.className}.${shared.property} maps column '${column}', but sharedTables.column is '${shared.column}'`,
      ]);
    }
    declared.fieldNames ??= [shared.column];
    declared.defaultRaw ??= tenantSql;
    return;
  }
  meta.addProperty({
    name: shared.property,
    fieldNames: [shared.column],
    type: shared.type === 'text' ? 'string' : shared.type === 'uuid' ? 'uuid' : shared.type === 'int' ? 'integer' : 'bigint',
    runtimeType: shared.type === 'int' ? 'number' : 'string',
    columnTypes: [shared.type],
    nullable: false,
    hidden: true,
    index: true,
    defaultRaw: tenantSql,
  } as EntityProperty);
}

/**
 * The library's own tables (dropped and fenced tenants) are written as the tenant they name, and hold one row per
 * tenant: each tenant sees and writes only its own row, so no tenant reads which others were dropped or moving, nor
 * marks another tenant dropped or fenced to stop its writes.
 */
function ownRowsOnly(meta: EntityMetadata, tenantSql: string): void {
  const own = `"tenant_id" = (${tenantSql})::text`;
  meta.rowLevelSecurity = 'force';
  meta.policies = [...(meta.policies ?? []).filter((p) => p.name !== policyName(meta)), { name: policyName(meta), using: own, check: own }];
}

/** The tenant property as discovery initialised it on an entity (MikroORM builds generated pivots after onMetadata). */
function initialisedTenantProperty(storage: MetadataStorage, property: string): EntityProperty | undefined {
  for (const meta of storage.getAll().values()) {
    const prop = meta.properties[property] as EntityProperty | undefined;
    if (prop && !meta.pivotTable && prop.fieldNames?.length) return prop;
  }
  return undefined;
}

/**
 * A generated pivot table gets the tenant column (filled by its default, as MikroORM leaves the column out of its
 * inserts), so a tenant's pivot rows can be selected by that column alone (row filters of logical replication admit
 * no subquery). Added after discovery: no later pass initialises it, so it is a full copy of an entity's.
 */
function addPivotTenantProperty(meta: EntityMetadata, tenantProperty: EntityProperty): void {
  meta.addProperty({ ...tenantProperty, fieldNames: [...tenantProperty.fieldNames], columnTypes: [...tenantProperty.columnTypes] } as EntityProperty);
  meta.sync(true);
}

/** `(tenant, primary key)` unique: one tenant's rows are addressable by the tenant column plus the key. */
function addTenantKeyUnique(meta: EntityMetadata, tenantProperty: string, scoping: TenantColumnScoping): void {
  if (!scoping.tenantKeyUnique) return;
  const name = scoping.tenantKeyUnique(meta.tableName);
  // single-table inheritance makes its children's columns nullable: this one is never null, and a replica identity
  // index must be on columns that are not null
  (meta.properties[tenantProperty] as EntityProperty).nullable = false;
  const properties = [tenantProperty, ...meta.primaryKeys.filter((pk) => pk !== tenantProperty)];
  if (meta.uniques.some((u) => u.name === name)) return;
  meta.uniques.push({ name, properties } as EntityMetadata['uniques'][number]);
}

/**
 * Each single-column reference (many-to-one, owning one-to-one) must point at a row the tenant sees: evaluated under
 * the referenced table's own policy, so a row of another tenant is not found. A generated pivot (no tenant column)
 * is visible and writable only when both of its rows are the tenant's.
 */
function referenceChecks(meta: EntityMetadata): string | undefined {
  const checks: string[] = [];
  for (const prop of Object.values(meta.properties)) {
    const target = prop.targetMeta;
    if (!(prop.kind === 'm:1' || (prop.kind === '1:1' && prop.owner)) || !target || target.pivotTable || target.primaryKeys.length !== 1) continue;
    if (prop.fieldNames.length !== 1) continue;
    const table = target.schema && target.schema !== '*' ? `${quote(target.schema)}.${quote(target.tableName)}` : quote(target.tableName);
    const pk = target.properties[target.primaryKeys[0] as string]?.fieldNames[0] as string;
    // the column is qualified with its own table: the referenced table may have a column of the same name
    const column = `${quote(meta.tableName)}.${quote(prop.fieldNames[0] as string)}`;
    checks.push(`(${column} is null or exists (select 1 from ${table} r where r.${quote(pk)} = ${column}))`);
  }
  return checks.length ? checks.join(' and ') : undefined;
}

/**
 * MikroORM 7.2 turns a filter on the inverse side of a one-to-one, when it is populated through another relation with
 * the select-in strategy (`populate: ['author.profile']`), into a WHERE condition of the child query instead of a
 * join condition: the authors without a profile vanish. The tenant filter is left off those joins; the row on the
 * other side is the tenant's anyway (it references a row of the tenant, which row-level security checks on write),
 * and row-level security scopes the join. Pinned by test/e2e/isolation-table.e2e-spec.ts (strategy 'select-in').
 */
function keepTenantFilterOffInverseOneToOne(meta: EntityMetadata, tenantProperty: string): void {
  for (const prop of Object.values(meta.properties)) {
    if (prop.kind !== '1:1' || prop.owner || !prop.targetMeta?.properties[tenantProperty]) continue;
    const own = Array.isArray(prop.filters) ? Object.fromEntries(prop.filters.map((f) => [f, true])) : typeof prop.filters === 'object' ? prop.filters : {};
    prop.filters = { ...own, [TENANT_FILTER]: false } as EntityProperty['filters'];
  }
}

/** `unique: true` and `@Unique({ properties })` become unique per tenant: the tenant property is put first in each. */
function scopeUniques(meta: EntityMetadata, tenantProperty: string): void {
  for (const prop of Object.values(meta.properties)) {
    if (!prop.unique || prop.primary || prop.name === tenantProperty) continue;
    const name = typeof prop.unique === 'string' ? prop.unique : undefined;
    prop.unique = false;
    meta.uniques.push({ properties: [tenantProperty, prop.name], ...(name ? { name } : {}) } as EntityMetadata['uniques'][number]);
  }
  for (const unique of meta.uniques) {
    const properties = unique.properties === undefined ? undefined : [unique.properties].flat();
    if (properties && !properties.includes(tenantProperty)) unique.properties = [tenantProperty, ...properties] as never;
  }
}

function reportUniques(meta: EntityMetadata, shared: Required<SharedTablesOptions>, report: (entity: string, columns: string[]) => void): void {
  const includesTenant = (properties: unknown) => [properties].flat().includes(shared.property);
  for (const unique of meta.uniques) {
    if (!includesTenant(unique.properties)) report(meta.className, [unique.properties ?? unique.expression ?? unique.name].flat().map(String));
  }
  for (const prop of Object.values(meta.properties)) {
    if (prop.unique && !prop.primary) report(meta.className, [prop.name]);
  }
}

function policyName(meta: EntityMetadata): string {
  return `${meta.tableName}_tenant_isolation`.slice(0, 63);
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** The template's entities plus tables of the library's own, which the tenant migrations create with the others. */
export function withLibraryTables(template: ContextConfig, tables: EntitySchema[]): Pick<ContextConfig, 'entities' | 'entitiesTs'> {
  return {
    entities: [...(template.entities ?? []), ...tables] as ContextConfig['entities'],
    ...(template.entitiesTs ? { entitiesTs: [...template.entitiesTs, ...tables] as ContextConfig['entitiesTs'] } : {}),
  };
}
