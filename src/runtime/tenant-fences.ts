import { TenantDroppingError, TenantMovingError } from '../errors/tenant.errors.js';

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
  /** Tenants in the last step of a move: their new work waits for it (see awaitMove), and what waits. */
  readonly #movingUntil = new Map<string, number>();
  readonly #moveWaiters = new Map<string, Set<() => void>>();
  /** When each tenant's last move step began lately (see moveError). */
  readonly #movedAt = new Map<string, number>();

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

  /** Holds the tenant's new work while a move's last step runs (until `liftMove`, or `ttlMs` at most). */
  fenceMove(tenantId: string, ttlMs: number = Number.POSITIVE_INFINITY): void {
    this.#movingUntil.set(tenantId, Date.now() + ttlMs);
    this.#movedAt.delete(tenantId);
    this.#movedAt.set(tenantId, Date.now());
    if (this.#movedAt.size > MAX_REMEMBERED_DROPS) this.#movedAt.delete(this.#movedAt.keys().next().value as string);
  }

  /**
   * For an error of the tenant's work (a table gone from under it): the move that explains it, when its last step is
   * under way or began in the last minute (the source was renamed away while the request ran).
   */
  moveError(tenantId: string): TenantMovingError | undefined {
    const at = this.#movedAt.get(tenantId);
    if (this.isMoving(tenantId)) return new TenantMovingError(tenantId);
    return at !== undefined && Date.now() - at < REMEMBER_DROPS_MS ? new TenantMovingError(tenantId, 'moved') : undefined;
  }

  /** Ends a move's fence: the work waiting for it goes on (and looks the tenant up again). */
  liftMove(tenantId: string): void {
    this.#movingUntil.delete(tenantId);
    const waiters = this.#moveWaiters.get(tenantId);
    this.#moveWaiters.delete(tenantId);
    for (const wake of waiters ?? []) wake();
  }

  isMoving(tenantId: string): boolean {
    if (this.#movingUntil.size === 0) return false;
    const until = this.#movingUntil.get(tenantId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.liftMove(tenantId);
    return false;
  }

  /** Waits while the tenant is moving, at most `timeoutMs`; false when it still is. */
  async awaitMove(tenantId: string, timeoutMs: number): Promise<boolean> {
    if (!this.isMoving(tenantId)) return true;
    const until = Math.min(Date.now() + timeoutMs, this.#movingUntil.get(tenantId) as number);
    await this.wait(this.#moveWaiters, tenantId, Math.max(0, until - Date.now()));
    return !this.isMoving(tenantId);
  }

  /** Whether the tenant's new work cannot start at once (a drop refuses it, a move holds it). */
  isFenced(tenantId: string): boolean {
    if (this.#movingUntil.size !== 0 && this.isMoving(tenantId)) return true;
    return this.isDropFenced(tenantId);
  }

  private isDropFenced(tenantId: string): boolean {
    if (this.#fencedUntil.size === 0) return false; // the common case, on every request
    const until = this.#fencedUntil.get(tenantId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#fencedUntil.delete(tenantId);
    return false;
  }

  /** 503 when the tenant is being dropped. */
  refuseIfFenced(tenantId: string): void {
    if (this.isDropFenced(tenantId)) throw new TenantDroppingError(tenantId, 'dropping');
  }

  /** For an error of the tenant's work: the drop that explains it (under way, or just done), if any. */
  dropError(tenantId: string): TenantDroppingError | undefined {
    if (this.isDropFenced(tenantId)) return new TenantDroppingError(tenantId, 'dropping');
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
    await this.wait(this.#drainWaiters, tenantId, timeoutMs);
    return this.inFlight(tenantId);
  }

  /** Resolves when the tenant's waiters in `waiters` are woken, or after `timeoutMs`. */
  private wait(waiters: Map<string, Set<() => void>>, tenantId: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      const set = waiters.get(tenantId) ?? new Set<() => void>();
      waiters.set(tenantId, set);
      set.add(done);
      function done(): void {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && waiters.get(tenantId) === set) waiters.delete(tenantId);
        resolve();
      }
    });
  }
}
