import { TenantDroppingError } from '../errors/tenant.errors.js';

/**
 * Tenants whose drop is under way, and the units of work in flight per tenant in this process. A fenced tenant's new
 * work is refused (503) so that a drop only has to wait for what already started (`drained`), never for new work.
 * A fence set on another instance's word carries an expiry, so a dropper that crashed does not fence forever.
 */
export class TenantFences {
  readonly #fencedUntil = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();
  readonly #drainWaiters = new Map<string, Set<() => void>>();

  fence(tenantId: string, ttlMs: number = Number.POSITIVE_INFINITY): void {
    this.#fencedUntil.set(tenantId, Date.now() + ttlMs);
  }

  lift(tenantId: string): void {
    this.#fencedUntil.delete(tenantId);
  }

  isFenced(tenantId: string): boolean {
    if (this.#fencedUntil.size === 0) return false; // the common case, on every request
    const until = this.#fencedUntil.get(tenantId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#fencedUntil.delete(tenantId);
    return false;
  }

  /** 503 when the tenant is being dropped. */
  refuseIfFenced(tenantId: string): void {
    if (this.isFenced(tenantId)) throw new TenantDroppingError(tenantId);
  }

  /** Counts a unit of work of the tenant; call the returned function once when it ends. */
  enter(tenantId: string): () => void {
    this.#inFlight.set(tenantId, (this.#inFlight.get(tenantId) ?? 0) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const count = (this.#inFlight.get(tenantId) ?? 1) - 1;
      if (count > 0) {
        this.#inFlight.set(tenantId, count);
        return;
      }
      this.#inFlight.delete(tenantId);
      const waiters = this.#drainWaiters.get(tenantId);
      this.#drainWaiters.delete(tenantId);
      for (const wake of waiters ?? []) wake();
    };
  }

  inFlight(tenantId: string): number {
    return this.#inFlight.get(tenantId) ?? 0;
  }

  /** Waits until the tenant has no work in flight here, or `timeoutMs` passed; returns how many are still running. */
  async drained(tenantId: string, timeoutMs: number): Promise<number> {
    if (this.inFlight(tenantId) === 0) return 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      const waiters = this.#drainWaiters.get(tenantId) ?? new Set<() => void>();
      this.#drainWaiters.set(tenantId, waiters);
      waiters.add(done);
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
    });
    return this.inFlight(tenantId);
  }
}
