import { type EntityClass, type EntityManager, type FilterQuery, TableNotFoundException } from '@mikro-orm/core';
import type { StaticContexts, TenantRecord, TenantStore } from './tenant-store.js';
import { TenancyUsageError } from '../errors/options.errors.js';

export interface TableTenantStoreOptions {
  /** The static context whose database holds the tenant table. Default `'default'`. */
  context?: string;
}

/**
 * Tenants kept as rows of an entity in a static context (typically the hub database). The entity needs a string
 * primary key `id` and may have a boolean `suspended`; every other property is passed along in the record.
 */
export class TableTenantStore<T extends TenantRecord & object> implements TenantStore<T> {
  #contexts?: StaticContexts;

  constructor(
    private readonly entity: EntityClass<T>,
    private readonly options: TableTenantStoreOptions = {},
  ) {}

  get contextName(): string {
    return this.options.context ?? 'default';
  }

  attach(contexts: StaticContexts): void {
    this.#contexts = contexts;
  }

  async find(id: string): Promise<T | undefined> {
    // from the primary: a lookup must see a tenant created, suspended or dropped a moment ago (no read replica)
    const found = await this.explained(this.em().findOne(this.entity, { id } as FilterQuery<T>, { connectionType: 'write' }));
    return found ?? undefined;
  }

  async list(): Promise<T[]> {
    return this.explained(this.em().find(this.entity, {}, { orderBy: { id: 'asc' } as never }));
  }

  /** Inserts (through `em.create`, so property initialisers such as `createdAt = new Date()` apply) or updates. */
  async add(record: T): Promise<void> {
    const em = this.em();
    const existing = await this.explained(em.findOne(this.entity, { id: record.id } as FilterQuery<T>));
    if (existing) em.assign(existing, record as never);
    else em.create(this.entity, record as never);
    await em.flush();
  }

  async remove(id: string): Promise<void> {
    await this.em().nativeDelete(this.entity, { id } as FilterQuery<T>);
  }

  /** A missing tenant table is a set-up step (the context is not migrated yet): say so, and how to fix it. */
  private async explained<R>(query: Promise<R>): Promise<R> {
    try {
      return await query;
    } catch (error) {
      if (!(error instanceof TableNotFoundException)) throw error;
      const context = this.contextName;
      throw new TenancyUsageError(
        `The tenant store's table for ${this.entity.name} does not exist in context '${context}' yet: apply that context's ` +
          `migrations first (\`mikro-tenancy migrate up --context ${context}\`; if its migrations are read from dist/, ` +
          `compile them before).`,
        undefined,
        undefined,
        { cause: error },
      );
    }
  }

  /** A fresh fork for each call: lookups never share or pollute a request's identity map. */
  private em(): EntityManager {
    const contextName = this.contextName;
    if (!this.#contexts) {
      throw new TenancyUsageError(`TableTenantStore(${this.entity.name}) is not attached: pass it as tenancy.store to MikroTenancyModule.`);
    }
    return this.#contexts.orm(contextName).em.fork({ disableContextResolution: true });
  }
}
