import { defineConfig } from '@mikro-orm/postgresql';
import { InvalidTenancyOptionsError } from '../../src/errors/options.errors.js';
import { TenantNotFoundError, TenantSuspendedError } from '../../src/errors/tenant.errors.js';
import { declarationOf, normalizeOptions } from '../../src/options/options-validation.js';
import type { TenancyOptions } from '../../src/options/tenancy-options.js';
import { StaticTenantStore } from '../../src/tenants/static-tenant-store.js';
import { TenantDirectory } from '../../src/tenants/tenant-directory.js';
import { TenantIdValidator } from '../../src/tenants/tenant-id-rules.js';
import type { TenantRecord, TenantStore } from '../../src/tenants/tenant-store.js';
import { Note } from '../fixtures/entities/note.entity.js';

/** A test double of the store interface: counts lookups and can be told to fail, as a hub that is down would. */
class FailingStore implements TenantStore {
  readonly calls: string[] = [];
  failWith?: Error;
  delayMs = 0;

  constructor(readonly inner: StaticTenantStore) {}

  async find(id: string): Promise<TenantRecord | undefined> {
    this.calls.push(id);
    if (this.delayMs) await sleep(this.delayMs);
    if (this.failWith) throw this.failWith;
    return this.inner.find(id);
  }

  list(): Promise<TenantRecord[]> {
    return this.inner.list();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hubDown = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5433'), { code: 'ECONNREFUSED' });

function directory(ttlMs: number, staleIfErrorMs: number) {
  const store = new FailingStore(new StaticTenantStore(['acme', 'globex', { id: 'frozen', suspended: true }]));
  const warnings: string[] = [];
  const tenants = new TenantDirectory(store, new TenantIdValidator(), { ttlMs, staleIfErrorMs, warn: (m) => void warnings.push(m) });
  return { store, tenants, warnings };
}

describe('TenantDirectory: stale-if-error', () => {
  it('serves the last answer of a known tenant while the store fails, within cacheTtlMs + staleIfErrorMs', async () => {
    const { tenants, store, warnings } = directory(30, 500);
    await tenants.get('acme');
    await sleep(60); // expired
    store.failWith = hubDown();
    await expect(tenants.get('acme')).resolves.toEqual({ id: 'acme' });
    expect(store.calls).toEqual(['acme', 'acme']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^The tenant store is unreachable \(connect ECONNREFUSED 127\.0\.0\.1:5433\): serving cached tenant lookups past their ttl, this one \d+ ms old \(tenant 'acme'\); each is served up to 530 ms after the store last answered/);
  });

  it('rejects with the store error once the window is over', async () => {
    const { tenants, store } = directory(20, 80);
    await tenants.get('acme');
    await sleep(150);
    const error = hubDown();
    store.failWith = error;
    await expect(tenants.get('acme')).rejects.toBe(error);
  });

  it('counts the age from the last answer of the store, not from the last failure', async () => {
    const { tenants, store } = directory(20, 150);
    await tenants.get('acme');
    store.failWith = hubDown();
    const served: boolean[] = [];
    // every lookup fails; the served answer must stop within the bound (170 ms after the store last answered)
    for (let i = 0; i < 15; i++) {
      served.push(await tenants.get('acme').then(() => true, () => false));
      await sleep(25);
    }
    expect(served[1]).toBe(true);
    expect(served.at(-1)).toBe(false);
    expect(served.indexOf(false)).toBeGreaterThan(0);
    expect(served.slice(served.indexOf(false)).every((s) => !s)).toBe(true);
  });

  it('never serves a stale answer past its bound, even from an entry cached while the store failed', async () => {
    const { tenants, store } = directory(100, 30);
    await tenants.get('acme');
    await sleep(110); // expired; 20 ms of the stale window left
    store.failWith = hubDown();
    await expect(tenants.get('acme')).resolves.toEqual({ id: 'acme' });
    await sleep(40); // past 130 ms, though the stale-served entry itself was made less than its 100 ms ttl ago
    await expect(tenants.get('acme')).rejects.toThrow('ECONNREFUSED');
  });

  it('gives ids never looked up the original error', async () => {
    const { tenants, store } = directory(30, 10_000);
    await tenants.get('acme');
    const error = hubDown();
    store.failWith = error;
    await expect(tenants.get('globex')).rejects.toBe(error);
  });

  it('serves a cached "unknown" as 404 and a cached suspension as 403, not as 503', async () => {
    const { tenants, store } = directory(20, 10_000);
    await expect(tenants.get('nope')).rejects.toBeInstanceOf(TenantNotFoundError);
    await expect(tenants.get('frozen')).rejects.toBeInstanceOf(TenantSuspendedError);
    await sleep(40);
    store.failWith = hubDown();
    await expect(tenants.get('nope')).rejects.toBeInstanceOf(TenantNotFoundError);
    await expect(tenants.get('frozen')).rejects.toBeInstanceOf(TenantSuspendedError);
    expect(store.calls).toEqual(['nope', 'frozen', 'nope', 'frozen']);
  });

  it('keeps the cached() fast path to fresh answers: a stale one goes through get', async () => {
    const { tenants, store } = directory(30, 10_000);
    await tenants.get('acme');
    expect(tenants.cached('acme')).toEqual({ id: 'acme' });
    await sleep(50);
    expect(tenants.cached('acme')).toBeUndefined();
    store.failWith = hubDown();
    await tenants.get('acme');
    expect(tenants.cached('acme')).toBeUndefined();
  });

  it('shares one failing store call between concurrent lookups, and serves each the last answer', async () => {
    const { tenants, store, warnings } = directory(150, 10_000);
    await tenants.get('acme');
    await sleep(170);
    store.failWith = hubDown();
    store.delayMs = 10;
    const records = await Promise.all(Array.from({ length: 20 }, () => tenants.get('acme')));
    expect(records.every((r) => r.id === 'acme')).toBe(true);
    expect(store.calls).toEqual(['acme', 'acme']);
    expect(warnings).toHaveLength(1);
    // the stale answer is kept until its ttl: the next requests do not ask the store again
    await tenants.get('acme');
    expect(store.calls).toHaveLength(2);
    await sleep(170);
    await tenants.get('acme');
    expect(store.calls).toHaveLength(3);
  });

  it('invalidate(id) and invalidate() drop stale answers too', async () => {
    const { tenants, store } = directory(20, 10_000);
    await tenants.get('acme');
    await tenants.get('globex');
    await sleep(40);
    store.failWith = hubDown();
    await tenants.get('acme'); // served stale
    tenants.invalidate('acme');
    await expect(tenants.get('acme')).rejects.toThrow('ECONNREFUSED');
    tenants.invalidate();
    await expect(tenants.get('globex')).rejects.toThrow('ECONNREFUSED');
  });

  it('does not serve a stale answer to a lookup in flight when its id is invalidated meanwhile', async () => {
    const { tenants, store } = directory(20, 10_000);
    await tenants.get('acme');
    await sleep(40);
    store.failWith = hubDown();
    store.delayMs = 30;
    const inFlight = tenants.get('acme');
    tenants.invalidate('acme'); // e.g. a drop announced by another instance
    await expect(inFlight).rejects.toThrow('ECONNREFUSED');
  });

  it('answers from the store again once it is back (a change made meanwhile is seen)', async () => {
    const { tenants, store } = directory(20, 10_000);
    await tenants.get('acme');
    await sleep(40);
    store.failWith = hubDown();
    await expect(tenants.get('acme')).resolves.toEqual({ id: 'acme' });
    await store.inner.add({ id: 'acme', suspended: true });
    store.failWith = undefined;
    await sleep(40);
    await expect(tenants.get('acme')).rejects.toBeInstanceOf(TenantSuspendedError);
    await store.inner.add({ id: 'newco' });
    await expect(tenants.get('newco')).resolves.toEqual({ id: 'newco' });
  });

  it('is off with staleIfErrorMs 0, and with cacheTtlMs 0 (nothing is cached)', async () => {
    for (const [ttlMs, staleIfErrorMs] of [[20, 0], [0, 10_000]] as const) {
      const { tenants, store, warnings } = directory(ttlMs, staleIfErrorMs);
      await tenants.get('acme');
      await sleep(40);
      store.failWith = hubDown();
      await expect(tenants.get('acme')).rejects.toThrow('ECONNREFUSED');
      expect(warnings).toEqual([]);
    }
  });
});

describe('tenancy.staleIfErrorMs', () => {
  const tenancy = (extra: Partial<TenancyOptions> = {}): TenancyOptions => ({
    isolation: 'schema',
    config: defineConfig({ dbName: 'x', entities: [Note] }),
    store: new StaticTenantStore(['acme']),
    ...extra,
  });
  const forRoot = (t: TenancyOptions) => normalizeOptions({ tenancy: t }, declarationOf({ tenancy: t }));

  it('defaults to 60000 and keeps a given value (0 included)', () => {
    expect(forRoot(tenancy()).tenancy!.staleIfErrorMs).toBe(60_000);
    expect(forRoot(tenancy({ staleIfErrorMs: 0 })).tenancy!.staleIfErrorMs).toBe(0);
    expect(forRoot(tenancy({ staleIfErrorMs: 3_000 })).tenancy!.staleIfErrorMs).toBe(3_000);
  });

  it.each([-1, 1.5, Number.NaN, '100' as never])('refuses %p', (value) => {
    const error = (() => {
      try {
        forRoot(tenancy({ staleIfErrorMs: value }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidTenancyOptionsError);
    expect((error as InvalidTenancyOptionsError).problems).toEqual([
      "tenant context 'tenant': staleIfErrorMs must be a whole number of ms, 0 or more (0 turns stale-if-error off)",
    ]);
  });
});
