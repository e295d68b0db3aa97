import type { EntityManager } from '@mikro-orm/core';
import type { TenantRecord } from '../tenants/tenant-store.js';

/**
 * The tenant of one request or `run()`: its record and, made on first use, its EntityManager fork
 * (schema mode: a fork pinned to the tenant's schema; database mode: a fork of the tenant's own ORM).
 */
export class ActiveTenant<T extends TenantRecord = TenantRecord> {
  #em?: EntityManager;
  /** Holders: the request or run() that entered the tenant, and a handler still running (see hold()). */
  #holds = 1;
  #afterRelease?: () => void;
  /** Ends the entering request's (or run's) hold; safe to call more than once. */
  readonly release: () => void;

  constructor(
    readonly record: T,
    private readonly root: EntityManager,
    private readonly schema: string | undefined,
    private readonly onRelease?: () => void,
  ) {
    this.release = this.holdRelease();
  }

  get id(): string {
    return this.record.id;
  }

  get em(): EntityManager {
    this.#em ??= this.root.fork({ schema: this.schema, disableContextResolution: true });
    return this.#em;
  }

  /**
   * One more holder, e.g. a handler that keeps running after its client disconnected: the tenant's connection
   * slot (database mode) goes back only when every holder is done, so the pool never closes an ORM in use.
   * Returns this holder's release (idempotent), or undefined when the tenant was already given back.
   */
  hold(): (() => void) | undefined {
    if (this.#holds === 0) return undefined;
    this.#holds++;
    return this.holdRelease();
  }

  /** Also calls `fn` when the tenant is given back (the runtime counts the tenant's work in flight this way). */
  onReleased(fn: () => void): void {
    this.#afterRelease = fn;
  }

  /** The release of one hold already counted: idempotent; the last one gives the tenant back. */
  private holdRelease(): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#holds--;
      if (this.#holds > 0) return;
      this.onRelease?.();
      this.#afterRelease?.();
    };
  }
}
