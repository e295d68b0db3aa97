import { type EntityMetadata, MikroORM, type Transaction } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { ActiveTenant, type TenantFork, tenantFork } from '../../scope/active-tenant.js';
import { TenantKyselyNeedsTransactionError } from '../../errors/isolation.errors.js';
import { SharedTierDatabaseError } from '../../errors/placement.errors.js';
import type { ContextConfig, SharedTablesOptions } from '../../options/tenancy-options.js';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { TenantHealth, TenantIsolationStrategy, TenantMigrationAccess } from '../tenant-isolation.js';
import { tenantOrmOptions } from '../tenant-isolation.js';
import { tenantEntityManagerClass } from '../tenant-entity-manager.js';
import { TENANT_FILTER, sharedTableDiscovery, withLibraryTables } from './shared-table-metadata.js';
import { TenantColumnGuard } from './tenant-column-guard.js';
import { TableProvisioning } from './table-provisioning.js';
import { checkRoleHonoursRls } from './rls-role-check.js';
import { DroppedTenantSchema, isDroppedTenantTable } from './dropped-tenant.entity.js';
import { schemaModeMetadata } from '../schema/mixed-tier-metadata.js';
import { mixedTierSchemaPrelude, sharedReplicaIdentitySql } from '../schema/mixed-tier-functions.js';
import { withSearchPath } from '../schema/search-path.js';
import { withSessionSearchPathGuard } from '../schema/session-search-path-guard.js';
import { createDatabaseIfMissing } from '../management-database.js';
import { fencedWriteDriverClass } from '../schema/fenced-write.js';
import { databaseUnavailableReason } from '../../errors/database-unavailable.error.js';
import { tenantSessionTag } from './session-tag.js';

/** Tenants whose fork options are kept (the oldest is forgotten past it): the per-request path builds them once. */
const MAX_CACHED_FORKS = 10_000;

export interface TableIsolationSettings {
  contextName: string;
  template: ContextConfig;
  shared: Required<SharedTablesOptions>;
  /** The tenant of the current unit of work, to name it in errors. */
  currentTenantId: () => string | undefined;
  /**
   * Schema isolation's shared tier (tenancy.sharedTier): the tables are in `schema` of the template's database, with
   * the mixed tiers' metadata (mixed-tier-metadata.ts); the connections' search_path is that schema and `searchPath`.
   */
  sharedTier?: { schema: string; searchPath: readonly string[] };
  logger: Logger;
}

/**
 * Shared tables: one ORM and one pool for every tenant, each row carrying its tenant in a column. Two layers keep a
 * tenant to its rows, both MikroORM's own (see shared-table-metadata.ts):
 * 1. the ORM: an entity filter on every tenant entity (reads, counts, populate, relation conditions, native
 *    updates and deletes), the tenant column filled in on insert, and a flush guard (tenant-column-guard.ts);
 * 2. PostgreSQL: row-level security policies on every tenant table, forced on the owner, reading a setting that
 *    each fork's session context sets per transaction (`set_config(..., true)`, MikroORM's `sessionContext:
 *    'transaction'`): safe behind PgBouncer in transaction mode, and a query without it sees and writes no rows.
 */
export class TableIsolation<T extends TenantRecord = TenantRecord> implements TenantIsolationStrategy<T> {
  readonly kind = 'table' as const;
  readonly provisioning: TableProvisioning<T>;
  /** The tables are shared: the tenant migrations apply once (under one lock), whichever tenant runs them first. */
  readonly migrations: TenantMigrationAccess<T> = {
    sharedOrm: true,
    shared: true,
    ormConfig: () => this.migrationConfig(true),
    target: () => ({ shared: true, lockKey: `nestjs-mikro-tenancy:${this.settings.contextName}:shared-tables`, ...this.sharedTierTarget() }),
    generatorConfig: () => this.migrationConfig(false),
  };
  /** Each tenant's fork options (frozen: every request of the tenant shares them), made on its first request. */
  readonly #forks = new Map<string, TenantFork>();
  /** The shared tier's set-up could not run at boot (its server unreachable): it runs before the first tenant is served. */
  #setUpPending = false;
  #settingUp: Promise<void> | undefined;

  private constructor(
    readonly orm: MikroORM,
    private readonly settings: TableIsolationSettings,
  ) {
    this.provisioning = new TableProvisioning<T>(this, settings.logger);
  }

  /**
   * Opens the tenant ORM (MikroORM connects lazily) and runs the set-up checks. A shared tier whose server cannot be
   * reached at boot does not stop the app (a server down fails only its own tenants): its checks then run on its
   * tenants' first request, which answers 503 until the server is back.
   */
  static async open<T extends TenantRecord>(settings: TableIsolationSettings): Promise<TableIsolation<T>> {
    const orm = await MikroORM.init(tableModeOrmOptions(settings));
    const isolation = new TableIsolation<T>(orm, settings);
    try {
      await isolation.setUp();
    } catch (error) {
      const unreachable = settings.sharedTier ? databaseUnavailableReason(error) : undefined;
      if (unreachable === undefined) {
        await orm.close();
        throw error;
      }
      settings.logger.warn(
        `Tenant context '${settings.contextName}': the shared tier's server could not be reached at boot (${unreachable}); its tenants answer 503 ` +
          `until it is back, and its set-up (database "${String(settings.template.dbName)}", role check) runs on their first request`,
      );
      isolation.#setUpPending = true;
    }
    return isolation;
  }

  /** The shared tier's database made when missing, and the role checked to be bound by row-level security. */
  private async setUp(): Promise<void> {
    if (this.settings.sharedTier) await createSharedTierDatabase(this.settings);
    if (this.settings.shared.rowLevelSecurity) await checkRoleHonoursRls(this.orm, this.settings.contextName, this.settings.shared.bypassingRole, this.settings.logger);
  }

  /** Runs the set-up deferred at boot, once (a failure lets the next request try again). */
  private setUpLate(): Promise<void> {
    this.#settingUp ??= this.setUp().then(
      () => void (this.#setUpPending = false),
      (error: unknown) => {
        this.#settingUp = undefined;
        throw error;
      },
    );
    return this.#settingUp;
  }

  describe(record: T): string {
    return `rows of tenant '${record.id}' in the shared tables`;
  }

  acquire(record: T): ActiveTenant<T> | Promise<ActiveTenant<T>> {
    if (this.#setUpPending) return this.setUpLate().then(() => this.activate(record));
    return this.activate(record);
  }

  acquireNow(record: T): ActiveTenant<T> | undefined {
    return this.#setUpPending ? undefined : this.activate(record);
  }

  private activate(record: T): ActiveTenant<T> {
    return new ActiveTenant(record, this.orm.em, this.forkOf(record.id));
  }

  health(): TenantHealth {
    if (this.settings.sharedTier) return { ping: this.orm, details: { isolation: 'schema', tier: 'shared' } };
    return { ping: this.orm, details: { isolation: 'table', rowLevelSecurity: this.settings.shared.rowLevelSecurity } };
  }

  /** Tables with a tenant column, children before the tables they reference (the order a drop deletes in). */
  tenantTables(): { table: string; column: string }[] {
    const metas = [...this.orm.getMetadata().getAll().values()].filter(
      (m) => !m.embeddable && !m.virtual && !isDroppedTenantTable(m) && (m.root ?? m) === m && m.properties[this.settings.shared.property],
    );
    const platform = this.orm.em.getPlatform();
    return deleteOrder(metas).map((meta) => ({
      table: meta.schema && meta.schema !== '*' ? `${platform.quoteIdentifier(meta.schema)}.${platform.quoteIdentifier(meta.tableName)}` : platform.quoteIdentifier(meta.tableName),
      column: platform.quoteIdentifier(this.settings.shared.column),
    }));
  }

  asTenant<R>(tenantId: string, fn: (execute: (sql: string, params: unknown[], method?: 'all' | 'run') => Promise<unknown>, trx: Transaction) => Promise<R>): Promise<R> {
    const connection = this.orm.em.getConnection();
    return connection.transactional(async (trx) => {
      await connection.execute('select set_config(?, ?, true)', [this.settings.shared.setting, tenantId], 'all', trx);
      return fn((sql, params, method = 'all') => connection.execute(sql, params, method, trx), trx);
    });
  }

  async forgetTenant(tenantId: string): Promise<void> {
    // nothing is opened or checked per tenant: only its fork options are kept
    this.#forks.delete(tenantId);
  }

  reclaimEntityPrototypes(): void {
    this.orm.getMetadata().decorate(this.orm.em);
  }

  async close(): Promise<void> {
    await this.orm.close();
  }

  /** The application_name of a tenant's transactions while they run (see tenantSessionTag). */
  sessionTagOf(tenantId: string): string {
    return tenantSessionTag(tenantId);
  }

  private forkOf(tenantId: string): TenantFork {
    const cached = this.#forks.get(tenantId);
    if (cached) return cached;
    const { rowLevelSecurity, setting } = this.settings.shared;
    const fork = tenantFork({
      ...(this.settings.sharedTier ? { schema: this.settings.sharedTier.schema } : {}),
      filterParams: { [TENANT_FILTER]: Object.freeze({ id: tenantId }) },
      ...(rowLevelSecurity ? { session: Object.freeze({ variables: Object.freeze({ [setting]: tenantId, application_name: this.sessionTagOf(tenantId) }) }) } : {}),
    });
    if (this.#forks.size >= MAX_CACHED_FORKS) this.#forks.delete(this.#forks.keys().next().value as string);
    this.#forks.set(tenantId, fork);
    return fork;
  }

  /** `wildcardSchema`: the shared tier's migration runners; its generator names no schema (table mode: neither does). */
  private migrationConfig(wildcardSchema: boolean): ContextConfig {
    const { template, contextName, shared, sharedTier } = this.settings;
    if (sharedTier) return { ...template, ...schemaModeMetadata(template, contextName, shared, { wildcardSchema }) };
    // the serving ORM already warned about its unique constraints at boot
    return { ...template, ...withDroppedTenants(template), discovery: sharedTableDiscovery(template, contextName, shared, () => undefined) };
  }

  /** The shared tier migrates its schema, with its `nmt_tenant()` made first and the tables' replica identity after. */
  private sharedTierTarget(): { schema?: string; before?: string[]; after?: string[] } {
    const { sharedTier, shared } = this.settings;
    if (!sharedTier) return {};
    const { schema } = sharedTier;
    return { schema, before: mixedTierSchemaPrelude(schema, { setting: shared.setting }, shared), after: [sharedReplicaIdentitySql(schema)] };
  }
}

/** The tenant ORM of table mode: see TableIsolation. */
export function tableModeOrmOptions(settings: TableIsolationSettings): ContextConfig {
  const { template, contextName, shared, logger, currentTenantId } = settings;
  const warnUnique = (entity: string, columns: string[]) =>
    logger.warn(
      `Tenant context '${contextName}' (shared tables): a unique constraint of ${entity} on (${columns.join(', ')}) leaves out ` +
        `the tenant column, so one tenant's value blocks every other tenant's (and tells them it exists). Make it ` +
        `@Unique({ properties: ['${shared.property}', ...] }) and declare ${shared.property} on the entity.`,
    );
  const sharedTier = settings.sharedTier;
  const options = tenantOrmOptions(template, contextName, {
    ...(sharedTier
      ? {
          ...schemaModeMetadata(template, contextName, shared, { wildcardSchema: true, onUniqueWithoutTenant: warnUnique }),
          // pg_temp last: a temporary table never comes before a shared table (temporary tables are refused anyway)
          driverOptions: withSearchPath(template.driverOptions, [sharedTier.schema, ...sharedTier.searchPath, 'pg_temp']),
          driver: fencedWriteDriverClass(template, currentTenantId),
        }
      : { ...withDroppedTenants(template), discovery: sharedTableDiscovery(template, contextName, shared, warnUnique) }),
    subscribers: [...(template.subscribers ?? []), new TenantColumnGuard(shared.property)],
    sessionContext: 'transaction',
    entityManager: tenantEntityManagerClass(
      template,
      (em) => `tenant:${(em.getFilterParams(TENANT_FILTER) as { id?: string } | undefined)?.id ?? ''}`,
      shared.rowLevelSecurity ? () => new TenantKyselyNeedsTransactionError(currentTenantId()) : undefined,
    ),
  });
  // the shared tier's connections also serve every shared-tier tenant in turn: no session-long search_path or
  // temporary table may outlive a unit of work there either
  return sharedTier ? withSessionSearchPathGuard(options, contextName) : options;
}

/**
 * The shared tier's database, on its server, made at boot when missing (the app's role then needs CREATEDB; if it
 * has not, the error says to create the database once by hand).
 */
async function createSharedTierDatabase(settings: TableIsolationSettings): Promise<void> {
  const dbName = settings.template.dbName as string;
  try {
    if (await createDatabaseIfMissing(settings.template, dbName, settings.logger, `the shared tier of '${settings.contextName}'`)) {
      settings.logger.log(`Tenant context '${settings.contextName}': created database "${dbName}" for the shared tier`);
    }
  } catch (error) {
    throw new SharedTierDatabaseError(settings.contextName, dbName, error);
  }
}

/** The template's entities and the table of dropped tenants, which the tenant migrations create with the others. */
function withDroppedTenants(template: ContextConfig): Pick<ContextConfig, 'entities' | 'entitiesTs'> {
  return withLibraryTables(template, [DroppedTenantSchema]);
}

/** Children first: a table comes before every table it references (self references aside). */
function deleteOrder(metas: EntityMetadata[]): EntityMetadata[] {
  const ordered: EntityMetadata[] = [];
  const visiting = new Set<EntityMetadata>();
  const byClass = new Map(metas.map((m) => [m.class, m]));
  const visit = (meta: EntityMetadata) => {
    if (ordered.includes(meta) || visiting.has(meta)) return;
    visiting.add(meta);
    // every table that references this one goes first
    for (const other of metas) {
      if (other === meta) continue;
      const references = other.relations.some((p) => {
        const target = p.targetMeta?.root ?? p.targetMeta;
        return (p.kind === 'm:1' || (p.kind === '1:1' && p.owner)) && target !== undefined && byClass.get(target.class) === meta;
      });
      if (references) visit(other);
    }
    ordered.push(meta);
  };
  for (const meta of metas) visit(meta);
  return ordered;
}
