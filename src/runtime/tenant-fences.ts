import { TenantDroppingError } from '../errors/tenant.errors.js';

const MAX_REMEMBERED_DROPS = 1_000;
const REMEMBER_DROPS_MS = 60_000;

/**
 * Tenants whose drop is under way, and the units of work in flight per tenant in this process. A fenced tenant's new
 * work is refused (503) so that a drop only has to wait for what already started (`drained`), never for new work.
 * A fence set on another instance's word carries an expiry, so a dropper that crashed does not fence forever.
 */
export class TenantFences {
  readonly #fencedUntil = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();
  readonly #drainWaiters = new Map<string, Set<() => void>>();
  /** Tenants dropped lately, so the work a drop ended is told why (its error surfaces after the drop). */
  readonly #droppedAt = new Map<string, number>();

  fence(tenantId: string, ttlMs: number = Number.POSITIVE_INFINITY): void {
    this.#fencedUntil.set(tenantId, Date.now() + ttlMs);
  }

  /** Ends the fence; `dropped` when the drop completed (remembered for a while, see wasJustDropped). */
  lift(tenantId: string, dropped = false): void {
    this.#fencedUntil.delete(tenantId);
    if (!dropped) return;
    this.#droppedAt.delete(tenantId);
    this.#droppedAt.set(tenantId, Date.now());
    if (this.#droppedAt.size > MAX_REMEMBERED_DROPS) this.#droppedAt.delete(this.#droppedAt.keys().next().value as string);
  }

  /** Whether the tenant was dropped in the last minute (here, or on another instance that said so). */
  wasJustDropped(tenantId: string): boolean {
    const at = this.#droppedAt.get(tenantId);
    return at !== undefined && Date.now() - at < REMEMBER_DROPS_MS;
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
    if (this.isFenced(tenantId)) throw new TenantDroppingError(tenantId, 'dropping');
  }

  /** For an error of the tenant's work: the drop that explains it (under way, or just done), if any. */
  dropError(tenantId: string): TenantDroppingError | undefined {
    if (this.isFenced(tenantId)) return new TenantDroppingError(tenantId, 'dropping');
    if (this.wasJustDropped(tenantId)) return new TenantDroppingError(tenantId, 'dropped');
    return undefined;
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
