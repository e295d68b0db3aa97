import type { ActiveTenant } from '../../scope/active-tenant.js';
import type { ContextConfig, TenantIsolation } from '../../options/tenancy-options.js';
import type { TenantRecord } from '../../tenants/tenant-store.js';
import type { StorageOwner } from '../storage-owner.js';
import type { TenantHealth, TenantIsolationStrategy, TenantMigrationAccess, TenantProvisioning } from '../tenant-isolation.js';
import type { Logger } from '@nestjs/common';
import { TenantServerUnknownError, TenantTierMismatchError, TenantTierUnsupportedError } from '../../errors/placement.errors.js';
import { ThrottledWarnings } from '../throttled-warnings.js';
import { InvalidTenantIdError } from '../../errors/tenant.errors.js';

/**
 * Tenants spread over several PostgreSQL servers (`tenancy.servers`) and, in schema isolation, over two tiers
 * (`tenancy.databaseTier`): one isolation strategy per server and tier (schema mode: one tenant ORM and pool per
 * server, plus a bounded pool of ORMs for the database-tier tenants of that server; database mode: one tenant ORM pool
 * and budget per server), and each tenant routed to the strategy its record names (`server`: none is the first
 * server; `tier`). A server that is down fails only its own tenants' work (503); the others never wait on it.
 */
export class ServerRoutedIsolation<T extends TenantRecord = TenantRecord> implements TenantIsolationStrategy<T> {
  readonly kind: TenantIsolation;
  readonly provisioning: TenantProvisioning<T>;
  readonly migrations: TenantMigrationAccess<T>;
  readonly #first: TenantIsolationStrategy<T>;
  readonly #firstName: string;
  readonly #warnings?: ThrottledWarnings;
  /** Shared-tier tenants checked to have no schema of their own (see refuseOwnStorage). */
  readonly #sharedChecked = new Set<string>();

  constructor(
    readonly contextName: string,
    /** Each server's strategy, in the order of `tenancy.servers` (the first one holds tenants naming none). */
    readonly servers: ReadonlyMap<string, TenantIsolationStrategy<T>>,
    /** Each server's database tier (schema isolation with `tenancy.databaseTier`). */
    readonly databaseTier?: ReadonlyMap<string, TenantIsolationStrategy<T>>,
    /** False with one unnamed server (no `tenancy.servers`): a record's `server` is then ignored. */
    private readonly named = true,
    logger?: Logger,
    /** Each server's shared tier (schema isolation with `tenancy.sharedTier`). */
    readonly sharedTier?: ReadonlyMap<string, TenantIsolationStrategy<T>>,
  ) {
    this.#warnings = logger && new ThrottledWarnings(logger);
    const [first] = servers.entries();
    if (!first) throw new RangeError('ServerRoutedIsolation needs at least one server');
    [this.#firstName, this.#first] = first;
    this.kind = this.#first.kind;
    this.provisioning = this.routedProvisioning();
    this.migrations = this.routedMigrations();
  }

  /** The server a tenant lives on: its record's `server`, or the first server. */
  serverOf(record: T): string {
    return (this.named ? record.server : undefined) ?? this.#firstName;
  }

  /** The strategy of the tenant's server and tier; a server or tier that is not configured is refused. */
  strategyOf(record: T): TenantIsolationStrategy<T> {
    // a nullable column reads as null: the same as not set
    const server = this.named ? (record.server ?? undefined) : undefined;
    const tier = record.tier ?? undefined;
    if (server === undefined && (tier === undefined || tier === 'schema')) return this.#first;
    const strategies = tier === 'database' ? this.databaseTier : tier === 'shared' ? this.sharedTier : tier === undefined || tier === 'schema' ? this.servers : undefined;
    if (!strategies) throw this.logged(new TenantTierUnsupportedError(this.contextName, record.id, tier), record.id);
    const strategy = strategies.get(server ?? this.#firstName);
    if (!strategy) throw this.logged(new TenantServerUnknownError(this.contextName, record.id, server, [...this.servers.keys()]), record.id);
    return strategy;
  }

  /** A record that cannot be routed is a set-up problem the client's 500 does not explain: the log says it (throttled). */
  private logged<E extends Error>(error: E, tenantId: string): E {
    this.#warnings?.warn(`route:${tenantId}`, error.message);
    return error;
  }

  describe(record: T): string {
    const where = this.strategyOf(record).describe(record);
    return this.named ? `${where} on server '${this.serverOf(record)}'` : where;
  }

  acquire(record: T): ActiveTenant<T> | Promise<ActiveTenant<T>> {
    const strategy = this.strategyOf(record);
    if (record.tier === 'shared' && !this.#sharedChecked.has(record.id)) return this.refuseOwnStorage(record).then(() => strategy.acquire(record));
    return strategy.acquire(record);
  }

  acquireNow(record: T): ActiveTenant<T> | undefined {
    // a shared-tier tenant not checked yet takes acquire's path
    if (record.tier === 'shared' && !this.#sharedChecked.has(record.id)) return undefined;
    return this.strategyOf(record).acquireNow(record);
  }

  /**
   * Before a shared-tier tenant is first served (per process, again after any change of it): refused when its schema
   * in the tenant database still exists as its own, i.e. its record was switched to the shared tier without a move.
   */
  private async refuseOwnStorage(record: T): Promise<void> {
    const own = this.servers.get(this.serverOf(record));
    const asSchemaTier = { ...record, tier: 'schema' } as T;
    // an id whose schema name would not be valid (too long, reserved) cannot have a schema of its own
    if (own && derivesValidStorage(own, asSchemaTier)) {
      const storage = await own.provisioning.ownerOf(asSchemaTier);
      if (storage.exists && (storage.owner === undefined || storage.owner === record.id)) {
        throw this.logged(new TenantTierMismatchError(record.id, own.describe(asSchemaTier)), record.id);
      }
    }
    this.#sharedChecked.add(record.id);
  }

  /**
   * Each server's own report under `servers` (its database tier's pool under `databaseTier`); numbers (pool figures)
   * are also summed at the top. A shared tier is pinged as a server of its own (`<server> shared tier`). One unnamed
   * server without a shared tier: its report as is, the database tier's under `databaseTier`.
   */
  health(): TenantHealth {
    const servers: Record<string, TenantHealth> = {};
    const totals: Record<string, unknown> = {};
    const add = (name: string, server: TenantHealth) => {
      servers[name] = server;
      for (const [key, value] of Object.entries(server.details)) {
        if (typeof value === 'number') totals[key] = ((totals[key] as number | undefined) ?? 0) + value;
        else totals[key] ??= value;
      }
    };
    for (const [name, strategy] of this.servers) {
      const health = strategy.health();
      const tier = this.databaseTier?.get(name)?.health();
      add(name || 'default', tier ? { ...health, details: { ...health.details, databaseTier: tier.details } } : health);
      const shared = this.sharedTier?.get(name);
      if (shared) add(`${name || 'default'} shared tier`, shared.health());
    }
    if (!this.named && !this.sharedTier) return servers.default as TenantHealth;
    return { details: totals, servers };
  }

  reclaimEntityPrototypes(): void {
    for (const strategy of this.all()) strategy.reclaimEntityPrototypes();
  }

  /** Everywhere: a tenant moved away, or dropped, must not be served from what was checked or opened before. */
  async forgetTenant(tenantId: string): Promise<void> {
    this.#sharedChecked.delete(tenantId);
    await Promise.all(this.all().map((strategy) => strategy.forgetTenant(tenantId)));
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled(this.all().map((strategy) => strategy.close()));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private all(): TenantIsolationStrategy<T>[] {
    return [...this.servers.values(), ...(this.databaseTier?.values() ?? []), ...(this.sharedTier?.values() ?? [])];
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
   * Schema mode shares one migration ORM per server (`ormKey`): a fan-out worker keeps one per server it meets; a
   * database-tier tenant, like every tenant of database mode, gets one of its own.
   */
  private routedMigrations(): TenantMigrationAccess<T> {
    const first = this.#first.migrations;
    return {
      sharedOrm: first.sharedOrm,
      shared: first.shared,
      // a database-tier tenant has a database of its own: no shared migration ORM reaches it; the shared tier's
      // database has one of its own per server
      ormKey: (record) => {
        if (record?.tier === 'database') return undefined;
        const server = record ? this.serverOf(record) : this.#firstName;
        return record?.tier === 'shared' ? `${server}\u0000shared` : server;
      },
      ormConfig: (record: T | undefined): ContextConfig => (record ? this.strategyOf(record) : this.#first).migrations.ormConfig(record),
      target: (record) => this.strategyOf(record).migrations.target(record),
      ...(first.generatorConfig ? { generatorConfig: () => (first.generatorConfig as () => ContextConfig)() } : {}),
    };
  }
}

function derivesValidStorage<T extends TenantRecord>(strategy: TenantIsolationStrategy<T>, record: T): boolean {
  try {
    strategy.provisioning.nameOf(record);
    return true;
  } catch (error) {
    if (error instanceof InvalidTenantIdError) return false;
    throw error;
  }
}
