import { InvalidTenantIdError, TenantNotFoundError, TenantSuspendedError } from '../../src/errors/tenant.errors.js';
import { StaticTenantStore } from '../../src/tenants/static-tenant-store.js';
import { TenantDirectory } from '../../src/tenants/tenant-directory.js';
import { TenantIdValidator } from '../../src/tenants/tenant-id-rules.js';
import type { TenantRecord, TenantStore } from '../../src/tenants/tenant-store.js';

/** Wraps a store and counts the lookups that reach it; can be told to fail. */
class CountingStore implements TenantStore {
  readonly calls: string[] = [];
  failWith?: Error;
  delayMs = 0;

  constructor(readonly inner: StaticTenantStore) {}

  async find(id: string): Promise<TenantRecord | undefined> {
    this.calls.push(id);
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failWith) throw this.failWith;
    return this.inner.find(id);
  }

  list(): Promise<TenantRecord[]> {
    return this.inner.list();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function directory(ttlMs: number, tenants: (TenantRecord | string)[] = ['acme', { id: 'frozen', suspended: true }]) {
  const store = new CountingStore(new StaticTenantStore(tenants));
  return { store, tenants: new TenantDirectory(store, new TenantIdValidator(), { ttlMs }) };
}

describe('StaticTenantStore', () => {
  it('holds records and bare ids, and add/remove change it', async () => {
    const store = new StaticTenantStore<TenantRecord & { plan?: string }>(['acme', { id: 'globex', plan: 'pro' }]);
    expect(await store.find('acme')).toEqual({ id: 'acme' });
    expect(await store.find('globex')).toEqual({ id: 'globex', plan: 'pro' });
    expect(await store.find('nope')).toBeUndefined();
    await store.add({ id: 'initech' });
    await store.remove('acme');
    expect((await store.list()).map((t) => t.id)).toEqual(['globex', 'initech']);
  });
});

describe('TenantDirectory', () => {
  it('returns the record of a known, active tenant', async () => {
    const { tenants, store } = directory(1_000);
    await expect(tenants.get('acme')).resolves.toEqual({ id: 'acme' });
    expect(store.calls).toEqual(['acme']);
  });

  it.each(['', 'Acme', 'a;drop table x', 'pg_catalog', 'public', '../x', 'a'.repeat(64)])(
    'rejects the invalid id %p with a 400 before the store is asked',
    async (id) => {
      const { tenants, store } = directory(1_000);
      const error = await tenants.get(id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidTenantIdError);
      expect((error as InvalidTenantIdError).getStatus()).toBe(400);
      expect(store.calls).toEqual([]);
    },
  );

  it('answers 404 for an unknown tenant', async () => {
    const { tenants } = directory(1_000);
    const error = await tenants.get('nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TenantNotFoundError);
    expect((error as TenantNotFoundError).getStatus()).toBe(404);
    expect((error as TenantNotFoundError).message).toBe("Unknown tenant 'nope': no such tenant is registered in the tenant store.");
  });

  it('answers 403 for a suspended tenant', async () => {
    const { tenants } = directory(1_000);
    const error = await tenants.get('frozen').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TenantSuspendedError);
    expect((error as TenantSuspendedError).getStatus()).toBe(403);
    expect((error as TenantSuspendedError).message).toBe("Tenant 'frozen' is suspended.");
  });

  it('treats suspended: false as active', async () => {
    const { tenants } = directory(1_000, [{ id: 'acme', suspended: false }]);
    await expect(tenants.get('acme')).resolves.toEqual({ id: 'acme', suspended: false });
  });

  it('shares one store lookup between many concurrent gets and caches it within the ttl', async () => {
    const { tenants, store } = directory(10_000);
    store.delayMs = 10;
    const records = await Promise.all(Array.from({ length: 50 }, () => tenants.get('acme')));
    expect(records.every((r) => r.id === 'acme')).toBe(true);
    await tenants.get('acme');
    expect(store.calls).toEqual(['acme']);
  });

  it('caches per id', async () => {
    const { tenants, store } = directory(10_000, ['acme', 'globex']);
    await tenants.get('acme');
    await tenants.get('globex');
    await tenants.get('acme');
    await tenants.get('globex');
    expect(store.calls).toEqual(['acme', 'globex']);
  });

  it('caches "unknown" too, until invalidated', async () => {
    const { tenants, store } = directory(10_000);
    await expect(tenants.get('newco')).rejects.toBeInstanceOf(TenantNotFoundError);
    await store.inner.add({ id: 'newco' });
    await expect(tenants.get('newco')).rejects.toBeInstanceOf(TenantNotFoundError);
    expect(store.calls).toEqual(['newco']);
    tenants.invalidate('newco');
    await expect(tenants.get('newco')).resolves.toEqual({ id: 'newco' });
    expect(store.calls).toEqual(['newco', 'newco']);
  });

  it('asks the store again once the ttl has passed', async () => {
    const { tenants, store } = directory(40);
    await tenants.get('acme');
    await tenants.get('acme');
    expect(store.calls).toHaveLength(1);
    await sleep(80);
    await tenants.get('acme');
    expect(store.calls).toHaveLength(2);
  });

  it('does not cache at all with ttl 0', async () => {
    const { tenants, store } = directory(0);
    await tenants.get('acme');
    await tenants.get('acme');
    await Promise.all([tenants.get('acme'), tenants.get('acme')]);
    expect(store.calls).toHaveLength(4);
  });

  it('invalidate(id) forgets that id only', async () => {
    const { tenants, store } = directory(10_000, ['acme', 'globex']);
    await tenants.get('acme');
    await tenants.get('globex');
    tenants.invalidate('acme');
    await tenants.get('acme');
    await tenants.get('globex');
    expect(store.calls).toEqual(['acme', 'globex', 'acme']);
  });

  it('invalidate() forgets every id', async () => {
    const { tenants, store } = directory(10_000, ['acme', 'globex']);
    await tenants.get('acme');
    await tenants.get('globex');
    tenants.invalidate();
    await tenants.get('acme');
    await tenants.get('globex');
    expect(store.calls).toEqual(['acme', 'globex', 'acme', 'globex']);
  });

  it('sees a suspension after invalidate', async () => {
    const { tenants, store } = directory(10_000, ['acme']);
    await tenants.get('acme');
    await store.inner.add({ id: 'acme', suspended: true });
    await expect(tenants.get('acme')).resolves.toEqual({ id: 'acme' });
    tenants.invalidate('acme');
    await expect(tenants.get('acme')).rejects.toBeInstanceOf(TenantSuspendedError);
  });

  it('does not cache a failed lookup: the next get asks the store again', async () => {
    const { tenants, store } = directory(10_000);
    store.failWith = new Error('store down');
    await expect(tenants.get('acme')).rejects.toThrow('store down');
    store.failWith = undefined;
    await expect(tenants.get('acme')).resolves.toEqual({ id: 'acme' });
    expect(store.calls).toEqual(['acme', 'acme']);
  });

  it('gives every concurrent caller of a failed lookup the same error', async () => {
    const { tenants, store } = directory(10_000);
    store.delayMs = 10;
    store.failWith = new Error('store down');
    const results = await Promise.allSettled([tenants.get('acme'), tenants.get('acme'), tenants.get('acme')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(store.calls).toEqual(['acme']);
  });

  it('bounds the cache: the oldest lookup is forgotten past 10 000 ids', async () => {
    const ids = Array.from({ length: 10_001 }, (_, i) => `t${i}`);
    const { tenants, store } = directory(60_000, ids);
    for (const id of ids) await tenants.get(id);
    expect(store.calls).toHaveLength(10_001);
    await tenants.get('t10000'); // still cached
    expect(store.calls).toHaveLength(10_001);
    await tenants.get('t0'); // evicted to make room for t10000
    expect(store.calls).toHaveLength(10_002);
    expect(store.calls.at(-1)).toBe('t0');
  });
});
