import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { TenantPoolExhaustedError } from '../errors/tenant.errors.js';

/**
 * An evicted or idle ORM that has not closed by then gets its slot back anyway (logged as an error): one stuck
 * close (a driver never returning a connection) must not block every tenant that waits for a slot. A slot is given
 * back only once the ORM's connections are closed, not just asked to close: on PostgreSQL, `openConnectedOrm` makes
 * `orm.close()` wait for every socket to close, and closes from this side those PostgreSQL has not closed within
 * 5 s, so this only fires for a close stuck elsewhere.
 */
const CLOSE_TIMEOUT_MS = 10_000;

export interface TenantOrmPoolOptions {
  maxOpenTenants: number;
  idleTimeoutMs: number;
  acquireTimeoutMs: number;
}

/** One open (or opening) tenant ORM and how many requests use it. */
class PoolEntry {
  leases = 0;
  lastUsed = Date.now();
  orm?: MikroORM;

  constructor(readonly ready: Promise<MikroORM>) {
    void ready.then((orm) => (this.orm = orm), () => undefined); // failure is handled by whoever awaits `ready`
  }
}

export interface TenantOrmLease {
  readonly orm: MikroORM;
  release(): void;
}

/**
 * Database-per-tenant ORMs, bounded: at most `maxOpenTenants` open or closing at once (so connections stay within
 * maxOpenTenants x pool size), least recently used idle ones evicted first, idle ones closed after
 * `idleTimeoutMs`, concurrent first requests for a tenant sharing one ORM creation. An ORM in use is never closed.
 */
export class TenantOrmPool {
  /** Map order is LRU order: least recently used first. */
  readonly #entries = new Map<string, PoolEntry>();
  readonly #wakeups = new Set<() => void>();
  readonly #closings = new Set<Promise<void>>();
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;
  #opened = 0;
  #evicted = 0;

  constructor(
    private readonly options: TenantOrmPoolOptions,
    private readonly logger: Logger,
  ) {
    this.#sweeper = setInterval(() => this.closeIdle(), Math.max(50, Math.min(options.idleTimeoutMs / 2, 30_000)));
    this.#sweeper.unref(); // never keeps the process alive
  }

  /** Open tenant ORMs plus those still closing: what counts against the connection budget. */
  get size(): number {
    return this.#entries.size + this.#closings.size;
  }

  openTenantIds(): string[] {
    return [...this.#entries.keys()];
  }

  /** Counters for health checks and tests: ORMs open now, closing now, opened and evicted since boot. */
  stats(): { open: number; closing: number; opened: number; evicted: number; maxOpenTenants: number } {
    return { open: this.#entries.size, closing: this.#closings.size, opened: this.#opened, evicted: this.#evicted, maxOpenTenants: this.options.maxOpenTenants };
  }

  /** A lease on the tenant's ORM, opened with `open` if it is not open yet (one `open` for concurrent callers). */
  async acquire(tenantId: string, open: () => Promise<MikroORM>): Promise<TenantOrmLease> {
    const deadline = Date.now() + this.options.acquireTimeoutMs;
    for (;;) {
      if (this.#closed) throw new Error('The tenant ORM pool is closed: the application is shutting down.');
      const entry = this.#entries.get(tenantId);
      if (entry) return this.lease(tenantId, entry);
      if (this.size < this.options.maxOpenTenants) {
        this.#entries.set(tenantId, this.create(tenantId, open));
        continue;
      }
      // one eviction at a time: while an evicted ORM is still closing, wait for its slot rather than evict another
      if (this.#closings.size === 0 && this.evictLeastRecentlyUsedIdle()) continue;
      await this.waitForChange(tenantId, deadline);
    }
  }

  /** A lease on the tenant's ORM when it is open and ready, without a promise; undefined otherwise (use acquire). */
  leaseIfOpen(tenantId: string): TenantOrmLease | undefined {
    const entry = this.#closed ? undefined : this.#entries.get(tenantId);
    const orm = entry?.orm;
    if (!entry || !orm) return undefined;
    this.#entries.delete(tenantId); // move to the most recently used end
    this.#entries.set(tenantId, entry);
    entry.leases++;
    return this.leaseOf(entry, orm);
  }

  /** Closes a tenant's ORM once the requests using it have finished (lifecycle drop). */
  async evict(tenantId: string): Promise<void> {
    const entry = this.#entries.get(tenantId);
    if (!entry) return;
    this.#entries.delete(tenantId);
    await this.closeEntry(tenantId, entry);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.wakeAll();
    const entries = [...this.#entries];
    this.#entries.clear();
    // shutdown does not wait for leases: requests still running get a closed connection rather than a hang
    await Promise.all(entries.map(([id, entry]) => this.closeEntry(id, entry, false)));
    await Promise.all(this.#closings);
  }

  private async lease(tenantId: string, entry: PoolEntry): Promise<TenantOrmLease> {
    this.#entries.delete(tenantId); // move to the most recently used end
    this.#entries.set(tenantId, entry);
    entry.leases++;
    let orm: MikroORM;
    try {
      orm = entry.orm ?? (await entry.ready);
    } catch (error) {
      this.returnLease(entry);
      throw error;
    }
    return this.leaseOf(entry, orm);
  }

  /** A lease already counted on the entry: its release (idempotent) gives it back. */
  private leaseOf(entry: PoolEntry, orm: MikroORM): TenantOrmLease {
    let released = false;
    return {
      orm,
      release: () => {
        if (released) return;
        released = true;
        this.returnLease(entry);
      },
    };
  }

  private returnLease(entry: PoolEntry): void {
    entry.leases--;
    entry.lastUsed = Date.now();
    if (entry.leases === 0) this.wakeAll();
  }

  private create(tenantId: string, open: () => Promise<MikroORM>): PoolEntry {
    this.#opened++;
    const entry = new PoolEntry(open());
    entry.ready.catch(() => {
      // a failed open frees its slot at once; the next request for this tenant tries again
      if (this.#entries.get(tenantId) === entry) this.#entries.delete(tenantId);
      this.wakeAll();
    });
    return entry;
  }

  private evictLeastRecentlyUsedIdle(): boolean {
    for (const [id, entry] of this.#entries) {
      if (entry.leases === 0 && entry.orm) {
        this.#entries.delete(id);
        this.#evicted++;
        void this.closeEntry(id, entry);
        return true;
      }
    }
    return false;
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const [id, entry] of this.#entries) {
      if (entry.leases === 0 && entry.orm && entry.lastUsed <= cutoff) {
        this.#entries.delete(id);
        void this.closeEntry(id, entry);
      }
    }
  }

  /** Closes once the entry's last lease is returned; counted as closing (against the budget) from the start. */
  private closeEntry(tenantId: string, entry: PoolEntry, waitForLeases = true): Promise<void> {
    const closing = (waitForLeases ? this.drained(entry) : Promise.resolve())
      .then(() => entry.ready)
      .then(
        (orm) => this.closeWithin(tenantId, orm, CLOSE_TIMEOUT_MS),
        () => undefined, // an ORM that failed to open holds no connection; its error went to the requests that waited
      )
      .catch((error: unknown) => this.logger.error(`Closing the ORM of tenant '${tenantId}' failed: ${String(error)}`))
      .finally(() => {
        this.#closings.delete(closing);
        this.wakeAll();
      });
    this.#closings.add(closing);
    return closing;
  }

  private closeWithin(tenantId: string, orm: MikroORM, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.error(
          `The ORM of tenant '${tenantId}' did not close within ${timeoutMs} ms; its slot is given back anyway, ` +
            `and PostgreSQL ends its connections when they go idle or the server's timeouts fire.`,
        );
        resolve();
      }, timeoutMs);
      timer.unref(); // never keeps the process alive on its own
    });
    return Promise.race([orm.close(), timeout]).finally(() => clearTimeout(timer));
  }

  private async drained(entry: PoolEntry): Promise<void> {
    while (entry.leases > 0 && !this.#closed) await new Promise<void>((resolve) => this.#wakeups.add(resolve));
  }

  private waitForChange(tenantId: string, deadline: number): Promise<void> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new TenantPoolExhaustedError(tenantId, this.options.maxOpenTenants, this.options.acquireTimeoutMs);
    }
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wakeups.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#wakeups.delete(wake);
        reject(new TenantPoolExhaustedError(tenantId, this.options.maxOpenTenants, this.options.acquireTimeoutMs));
      }, remaining);
      this.#wakeups.add(wake);
    });
  }

  private wakeAll(): void {
    const wakeups = [...this.#wakeups];
    this.#wakeups.clear();
    for (const wake of wakeups) wake();
  }
}
