import type { Logger } from '@nestjs/common';
import type { TenantRecord } from '../tenants/tenant-store.js';

/** What each lifecycle event carries. */
export interface TenantLifecycleEvents<T extends TenantRecord = TenantRecord> {
  /** A tenant was provisioned, migrated (and seeded) and registered. */
  created: { tenant: T; migrations: string[] };
  /** Migrations were applied to (or reverted from) a tenant. */
  migrated: { tenantId: string; direction: 'up' | 'down'; migrations: string[]; durationMs: number };
  /** A tenant's migration failed; nothing of that tenant's run was applied. */
  migrationFailed: { tenantId: string; error: string };
  /** A tenant's schema or database and its store entry were removed. */
  dropped: { tenantId: string };
}

export type TenantLifecycleEvent = keyof TenantLifecycleEvents;
type Listener<T extends TenantRecord, E extends TenantLifecycleEvent> = (payload: TenantLifecycleEvents<T>[E]) => unknown;

/** Typed listeners; a failing listener is logged and never fails the operation that emitted the event. */
export class LifecycleEmitter<T extends TenantRecord> {
  readonly #listeners = new Map<TenantLifecycleEvent, Set<Listener<T, never>>>();

  constructor(private readonly logger: Logger) {}

  on<E extends TenantLifecycleEvent>(event: E, listener: Listener<T, E>): () => void {
    const listeners = this.#listeners.get(event) ?? new Set();
    listeners.add(listener as Listener<T, never>);
    this.#listeners.set(event, listeners);
    return () => listeners.delete(listener as Listener<T, never>);
  }

  async emit<E extends TenantLifecycleEvent>(event: E, payload: TenantLifecycleEvents<T>[E]): Promise<void> {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        await (listener as Listener<T, E>)(payload);
      } catch (error) {
        this.logger.error(`A '${event}' listener failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
  }
}
