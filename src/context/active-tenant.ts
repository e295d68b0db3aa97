import type { EntityManager } from '@mikro-orm/core';
import type { TenantRecord } from '../tenants/tenant-store.js';

/**
 * The tenant of one request or `run()`: its record and, made on first use, its EntityManager fork
 * (schema mode: a fork pinned to the tenant's schema; database mode: a fork of the tenant's own ORM).
 */
export class ActiveTenant<T extends TenantRecord = TenantRecord> {
  #em?: EntityManager;
  #released = false;

  constructor(
    readonly record: T,
    private readonly root: EntityManager,
    private readonly schema: string | undefined,
    private readonly onRelease?: () => void,
  ) {}

  get id(): string {
    return this.record.id;
  }

  get em(): EntityManager {
    this.#em ??= this.root.fork({ schema: this.schema, disableContextResolution: true });
    return this.#em;
  }

  /** Gives the tenant's connection slot back (database mode); safe to call more than once. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.onRelease?.();
  }
}
