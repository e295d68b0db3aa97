import type { MikroORM } from '@mikro-orm/core';
import { HttpStatus, Logger } from '@nestjs/common';
import { TenantPoolExhaustedError } from '../../src/errors/tenant.errors.js';
import { TenantOrmPool, type TenantOrmPoolOptions } from '../../src/isolation/tenant-orm-pool.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A real Nest Logger that keeps error lines instead of printing them. */
class CapturingLogger extends Logger {
  readonly errors: string[] = [];

  override error(message: unknown): void {
    this.errors.push(String(message));
  }
}

/** Stands in for a tenant's MikroORM: the pool only ever calls close(). */
class FakeOrm {
  closeCalls = 0;

  constructor(
    readonly tenantId: string,
    private readonly events: string[],
    private readonly closeDelayMs = 0,
    private readonly closeError?: Error,
  ) {}

  async close(): Promise<void> {
    this.closeCalls++;
    this.events.push(`close:${this.tenantId}`);
    if (this.closeDelayMs) await sleep(this.closeDelayMs);
    this.events.push(`closed:${this.tenantId}`);
    if (this.closeError) throw this.closeError;
  }
}

/** Opens fake ORMs and records every open and close, in order. */
class FakeOrms {
  readonly events: string[] = [];
  readonly created: FakeOrm[] = [];
  openDelayMs = 0;
  closeDelayMs = 0;
  closeError?: Error;
  failNextOpenWith?: Error;

  opener(tenantId: string): () => Promise<MikroORM> {
    return async () => {
      this.events.push(`open:${tenantId}`);
      if (this.openDelayMs) await sleep(this.openDelayMs);
      const failure = this.failNextOpenWith;
      if (failure) {
        this.failNextOpenWith = undefined;
        throw failure;
      }
      const orm = new FakeOrm(tenantId, this.events, this.closeDelayMs, this.closeError);
      this.created.push(orm);
      return orm as unknown as MikroORM;
    };
  }

  opens(tenantId: string): number {
    return this.events.filter((e) => e === `open:${tenantId}`).length;
  }

  closed(): string[] {
    return this.events.filter((e) => e.startsWith('close:')).map((e) => e.slice('close:'.length));
  }
}

describe('TenantOrmPool', () => {
  let pool: TenantOrmPool;
  let orms: FakeOrms;
  let logger: CapturingLogger;

  function createPool(options: Partial<TenantOrmPoolOptions> = {}): TenantOrmPool {
    pool = new TenantOrmPool({ maxOpenTenants: 10, idleTimeoutMs: 60_000, acquireTimeoutMs: 2_000, ...options }, logger);
    return pool;
  }

  const acquire = (tenantId: string) => pool.acquire(tenantId, orms.opener(tenantId));

  /** Whether `promise` is still pending after the event loop has had a chance to run. */
  async function isPending(promise: Promise<unknown>, ms = 20): Promise<boolean> {
    const marker = Symbol('pending');
    return (await Promise.race([promise.then(() => 'settled', () => 'settled'), sleep(ms).then(() => marker)])) === marker;
  }

  beforeEach(() => {
    orms = new FakeOrms();
    logger = new CapturingLogger('TenantOrmPoolTest');
  });

  afterEach(async () => {
    await pool?.close();
  });

  it('opens a tenant once for 100 concurrent first requests', async () => {
    createPool();
    orms.openDelayMs = 10;
    const leases = await Promise.all(Array.from({ length: 100 }, () => acquire('acme')));
    expect(orms.opens('acme')).toBe(1);
    expect(new Set(leases.map((l) => l.orm)).size).toBe(1);
    expect(pool.size).toBe(1);
    expect(pool.openTenantIds()).toEqual(['acme']);
    for (const lease of leases) lease.release();
  });

  it('reuses an open ORM for later requests', async () => {
    createPool();
    const first = await acquire('acme');
    first.release();
    const second = await acquire('acme');
    expect(second.orm).toBe(first.orm);
    expect(orms.opens('acme')).toBe(1);
    second.release();
  });

  it('closes only the least recently used idle ORM when every slot is taken', async () => {
    createPool({ maxOpenTenants: 2 });
    (await acquire('a')).release();
    (await acquire('b')).release();
    (await acquire('a')).release(); // "a" is now more recently used than "b"
    const lease = await acquire('c');
    expect(orms.closed()).toEqual(['b']);
    expect(pool.openTenantIds()).toEqual(['a', 'c']);
    expect(pool.stats()).toMatchObject({ open: 2, closing: 0, opened: 3, evicted: 1 });
    lease.release();
  });

  it('never evicts an ORM in use', async () => {
    createPool({ maxOpenTenants: 2 });
    const a = await acquire('a');
    (await acquire('b')).release();
    const c = await acquire('c');
    expect(orms.closed()).toEqual(['b']);
    expect(pool.openTenantIds().sort()).toEqual(['a', 'c']);
    expect((a.orm as unknown as FakeOrm).closeCalls).toBe(0);
    a.release();
    c.release();
  });

  it('opens a new tenant only after the evicted one has finished closing', async () => {
    createPool({ maxOpenTenants: 1 });
    orms.closeDelayMs = 50;
    (await acquire('a')).release();
    const b = await acquire('b');
    expect(orms.events).toEqual(['open:a', 'close:a', 'closed:a', 'open:b']);
    b.release();
  });

  it('makes a request wait while every slot is leased, and serves it when one is released', async () => {
    createPool({ maxOpenTenants: 2 });
    const a = await acquire('a');
    const b = await acquire('b');
    const waiting = acquire('c');
    expect(await isPending(waiting, 50)).toBe(true);
    expect(orms.opens('c')).toBe(0);
    a.release();
    const c = await waiting;
    expect((c.orm as unknown as FakeOrm).tenantId).toBe('c');
    expect(orms.closed()).toEqual(['a']);
    expect((b.orm as unknown as FakeOrm).closeCalls).toBe(0);
    b.release();
    c.release();
  });

  it('rejects with a 503 TenantPoolExhaustedError when no slot frees up within acquireTimeoutMs', async () => {
    const timeout = 150;
    createPool({ maxOpenTenants: 1, acquireTimeoutMs: timeout });
    const a = await acquire('a');
    const started = Date.now();
    const error = await acquire('b').catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(error).toBeInstanceOf(TenantPoolExhaustedError);
    expect((error as TenantPoolExhaustedError).getStatus()).toBe(HttpStatus.SERVICE_UNAVAILABLE);
    expect((error as TenantPoolExhaustedError).tenantId).toBe('b');
    expect((error as Error).message).toBe(
      "No tenant connection slot became free within 150 ms for tenant 'b': all 1 open tenant databases are in use. " +
        'Retry later, or raise tenancy.pool.maxOpenTenants (mind max_connections).',
    );
    expect(waited).toBeGreaterThanOrEqual(timeout - 20);
    expect(waited).toBeLessThan(timeout + 1_000);
    expect(orms.opens('b')).toBe(0);
    expect(orms.closed()).toEqual([]);
    a.release();
  });

  it('frees the slot of a failed open, and the next request for that tenant tries again', async () => {
    createPool({ maxOpenTenants: 1, acquireTimeoutMs: 200 });
    orms.openDelayMs = 10;
    orms.failNextOpenWith = new Error('database "tenant_a" does not exist');
    const results = await Promise.allSettled([acquire('a'), acquire('a'), acquire('a')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('database "tenant_a" does not exist');
    expect(orms.opens('a')).toBe(1);
    expect(pool.size).toBe(0);
    expect(pool.openTenantIds()).toEqual([]);

    const retry = await acquire('a');
    expect(orms.opens('a')).toBe(2);
    retry.release();
  });

  it('lets another tenant take the slot of a failed open at once', async () => {
    createPool({ maxOpenTenants: 1, acquireTimeoutMs: 500 });
    orms.failNextOpenWith = new Error('unreachable');
    await expect(acquire('a')).rejects.toThrow('unreachable');
    const started = Date.now();
    const b = await acquire('b');
    expect(Date.now() - started).toBeLessThan(200);
    expect(orms.closed()).toEqual([]); // a failed ORM holds nothing to close
    b.release();
  });

  it('wakes a waiting request when the open holding the last slot fails', async () => {
    createPool({ maxOpenTenants: 1, acquireTimeoutMs: 1_000 });
    orms.openDelayMs = 30;
    orms.failNextOpenWith = new Error('unreachable');
    const failing = acquire('a');
    const waiting = acquire('b');
    await expect(failing).rejects.toThrow('unreachable');
    const b = await waiting;
    expect((b.orm as unknown as FakeOrm).tenantId).toBe('b');
    b.release();
  });

  it('closes ORMs left idle for idleTimeoutMs, but not ORMs in use', async () => {
    createPool({ idleTimeoutMs: 100 });
    (await acquire('idle')).release();
    const busy = await acquire('busy');
    await sleep(300);
    expect(orms.closed()).toEqual(['idle']);
    expect(pool.openTenantIds()).toEqual(['busy']);

    busy.release();
    await sleep(300);
    expect(orms.closed()).toEqual(['idle', 'busy']);
    expect(pool.size).toBe(0);
  });

  it('keeps an ORM that is used again before idleTimeoutMs', async () => {
    createPool({ idleTimeoutMs: 200 });
    for (let i = 0; i < 5; i++) {
      (await acquire('acme')).release();
      await sleep(80);
    }
    expect(orms.closed()).toEqual([]);
    expect(orms.opens('acme')).toBe(1);
  });

  it('evict(id) waits for every lease to be released, then closes the ORM', async () => {
    createPool();
    const first = await acquire('acme');
    const second = await acquire('acme');
    const evicting = pool.evict('acme');
    expect(pool.openTenantIds()).toEqual([]);

    first.release();
    first.release(); // a second release of the same lease changes nothing
    expect(await isPending(evicting)).toBe(true);
    expect(orms.closed()).toEqual([]);

    second.release();
    await evicting;
    expect(orms.closed()).toEqual(['acme']);
    expect((first.orm as unknown as FakeOrm).closeCalls).toBe(1);

    (await acquire('acme')).release(); // opened afresh
    expect(orms.opens('acme')).toBe(2);
  });

  it('evict(id) of a tenant that is not open does nothing', async () => {
    createPool();
    (await acquire('a')).release();
    await pool.evict('nope');
    expect(orms.closed()).toEqual([]);
    expect(pool.openTenantIds()).toEqual(['a']);
  });

  it('close() closes every ORM and refuses later requests', async () => {
    createPool();
    (await acquire('a')).release();
    await acquire('b'); // still leased: shutdown closes it anyway
    await pool.close();
    expect(orms.closed().sort()).toEqual(['a', 'b']);
    expect(orms.created.every((orm) => orm.closeCalls === 1)).toBe(true);
    expect(pool.size).toBe(0);
    await expect(acquire('a')).rejects.toThrow('The tenant ORM pool is closed: the application is shutting down.');
  });

  it('close() fails requests that were waiting for a slot', async () => {
    createPool({ maxOpenTenants: 1, acquireTimeoutMs: 5_000 });
    await acquire('a');
    const waiting = acquire('b');
    expect(await isPending(waiting)).toBe(true);
    await pool.close();
    await expect(waiting).rejects.toThrow('The tenant ORM pool is closed');
    expect(orms.opens('b')).toBe(0);
  });

  it('close() waits for ORMs that are still closing', async () => {
    createPool({ maxOpenTenants: 1 });
    orms.closeDelayMs = 50;
    (await acquire('a')).release();
    const waiting = acquire('b').catch((e: unknown) => e); // evicts "a", which takes 50 ms to close
    await sleep(5);
    expect(orms.events).toEqual(['open:a', 'close:a']);
    expect(pool.size).toBe(1);
    await pool.close();
    expect(orms.events).toEqual(['open:a', 'close:a', 'closed:a']);
    expect(pool.size).toBe(0);
    expect(await waiting).toEqual(new Error('The tenant ORM pool is closed: the application is shutting down.'));
  });

  it('logs an ORM that fails to close, and still frees its slot', async () => {
    createPool({ maxOpenTenants: 1 });
    orms.closeError = new Error('boom');
    (await acquire('a')).release();
    const b = await acquire('b');
    expect(logger.errors).toEqual(["Closing the ORM of tenant 'a' failed: Error: boom"]);
    expect(pool.openTenantIds()).toEqual(['b']);
    b.release();
  });
});
