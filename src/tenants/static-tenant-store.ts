import type { TenantRecord, TenantStore } from './tenant-store.js';

/** Tenants listed in code or config; `add`/`remove` change this instance only. */
export class StaticTenantStore<T extends TenantRecord = TenantRecord> implements TenantStore<T> {
  readonly #tenants = new Map<string, T>();

  constructor(tenants: Iterable<T | string>) {
    for (const tenant of tenants) {
      const record = (typeof tenant === 'string' ? { id: tenant } : tenant) as T;
      this.#tenants.set(record.id, record);
    }
  }

  async find(id: string): Promise<T | undefined> {
    return this.#tenants.get(id);
  }

  async list(): Promise<T[]> {
    return [...this.#tenants.values()];
  }

  async add(record: T): Promise<void> {
    this.#tenants.set(record.id, record);
  }

  async remove(id: string): Promise<void> {
    this.#tenants.delete(id);
  }
}
