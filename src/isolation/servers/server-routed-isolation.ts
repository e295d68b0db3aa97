import type { ActiveTenant } from '../../scope/active-tenant.js';
import type { ContextConfig, TenantIsolation } from '../../options/tenancy-options.js';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { StorageOwner } from '../storage-owner.js';
import type { TenantHealth, TenantIsolationStrategy, TenantMigrationAccess, TenantProvisioning } from '../tenant-isolation.js';
import { TenantServerUnknownError } from '../../errors/isolation.errors.js';

/**
 * Tenants spread over several PostgreSQL servers (`tenancy.servers`): one isolation strategy per server (schema
 * mode: one tenant ORM and pool per server; database mode: one tenant ORM pool and budget per server), and each
 * tenant routed to the strategy of the server its record names (`record.server`; none: the first server). A server
 * that is down fails only its own tenants' work (503); the others never wait on it.
 */
export class ServerRoutedIsolation<T extends TenantRecord = TenantRecord> implements TenantIsolationStrategy<T> {
  readonly kind: TenantIsolation;
  readonly provisioning: TenantProvisioning<T>;
  readonly migrations: TenantMigrationAccess<T>;
  readonly #first: TenantIsolationStrategy<T>;

  constructor(
    readonly contextName: string,
    /** Each server's strategy, in the order of `tenancy.servers` (the first one holds tenants naming none). */
    readonly servers: ReadonlyMap<string, TenantIsolationStrategy<T>>,
  ) {
    const [first] = servers.values();
    if (!first) throw new RangeError('ServerRoutedIsolation needs at least one server');
    this.#first = first;
    this.kind = first.kind;
    this.provisioning = this.routedProvisioning();
    this.migrations = this.routedMigrations();
  }

  /** The server a tenant lives on: its record's `server`, or the first server. */
  serverOf(record: T): string {
    return record.server ?? (this.servers.keys().next().value as string);
  }

  /** The strategy of the tenant's server; a record naming a server that is not configured is refused. */
  strategyOf(record: T): TenantIsolationStrategy<T> {
    if (record.server === undefined) return this.#first;
    const strategy = this.servers.get(record.server);
    if (!strategy) throw new TenantServerUnknownError(this.contextName, record.id, record.server, [...this.servers.keys()]);
    return strategy;
  }

  describe(record: T): string {
    return `${this.strategyOf(record).describe(record)} on server '${this.serverOf(record)}'`;
  }

  acquire(record: T): ActiveTenant<T> | Promise<ActiveTenant<T>> {
    return this.strategyOf(record).acquire(record);
  }

  acquireNow(record: T): ActiveTenant<T> | undefined {
    return this.strategyOf(record).acquireNow(record);
  }

  /** Each server's own report under `servers`; numbers (database mode's pool figures) are also summed at the top. */
  health(): TenantHealth {
    const servers: Record<string, TenantHealth> = {};
    const totals: Record<string, unknown> = {};
    for (const [name, strategy] of this.servers) {
      const health = (servers[name] = strategy.health());
      for (const [key, value] of Object.entries(health.details)) {
        if (typeof value === 'number') totals[key] = ((totals[key] as number | undefined) ?? 0) + value;
        else totals[key] ??= value;
      }
    }
    return { details: totals, servers };
  }

  reclaimEntityPrototypes(): void {
    for (const strategy of this.servers.values()) strategy.reclaimEntityPrototypes();
  }

  /** On every server: a tenant moved away, or dropped, must not be served from what was checked or opened before. */
  async forgetTenant(tenantId: string): Promise<void> {
    await Promise.all([...this.servers.values()].map((strategy) => strategy.forgetTenant(tenantId)));
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([...this.servers.values()].map((strategy) => strategy.close()));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private routedProvisioning(): TenantProvisioning<T> {
    const on = (record: T) => this.strategyOf(record).provisioning;
    return {
      nameOf: (record) => on(record).nameOf(record),
      ownerOf: (record): Promise<StorageOwner> => on(record).ownerOf(record),
      create: (record) => on(record).create(record),
      beforeCreate: async (record) => on(record).beforeCreate?.(record),
      drop: (record, options) => on(record).drop(record, options),
    };
  }

  /**
   * Schema mode shares one migration ORM per server (`ormKey`): a fan-out worker keeps one per server it meets.
   * Database mode opens one per tenant, on the tenant's server.
   */
  private routedMigrations(): TenantMigrationAccess<T> {
    const first = this.#first.migrations;
    return {
      sharedOrm: first.sharedOrm,
      shared: first.shared,
      ormKey: (record) => (record ? this.serverOf(record) : (this.servers.keys().next().value as string)),
      ormConfig: (record: T | undefined): ContextConfig => (record ? this.strategyOf(record) : this.#first).migrations.ormConfig(record),
      target: (record) => this.strategyOf(record).migrations.target(record),
      ...(first.generatorConfig ? { generatorConfig: () => (first.generatorConfig as () => ContextConfig)() } : {}),
    };
  }
}
