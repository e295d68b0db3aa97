import { TenantNotFoundError, TenantSuspendedError } from '../errors/tenant.errors.js';
import type { TenantIdValidator } from './tenant-id-rules.js';
import type { TenantRecord, TenantStore } from './tenant-store.js';

interface CacheEntry<T> {
  readonly lookup: Promise<T | undefined>;
  readonly expiresAt: number;
  /** Set once the lookup resolved: read without a promise on the request path (see `cached`). */
  settled?: { record: T | undefined };
}

/** Bounds the cache so a flood of random (unknown) ids cannot grow memory without limit. */
const MAX_CACHED_LOOKUPS = 10_000;

/**
 * Validated, cached tenant lookups. Concurrent lookups of one id share one store query; results (including
 * "unknown") are cached for `ttlMs` and dropped on create/drop.
 */
export class TenantDirectory<T extends TenantRecord = TenantRecord> {
  readonly #cache = new Map<string, CacheEntry<T>>();

  constructor(
    readonly store: TenantStore<T>,
    readonly ids: TenantIdValidator,
    private readonly ttlMs: number,
  ) {}

  /** The active tenant with this id: 400 if the id is invalid, 404 if unknown, 403 if suspended. */
  async get(id: string): Promise<T> {
    this.ids.validate(id);
    const record = await this.lookup(id);
    if (!record) throw new TenantNotFoundError(id);
    if (record.suspended) throw new TenantSuspendedError(id);
    return record;
  }

  /**
   * The active tenant with this id when its lookup is cached and settled, without a promise; undefined otherwise
   * (not cached, still in flight, unknown or suspended: `get` answers those). A cached id was validated when it was
   * first looked up, so it is not validated again.
   */
  cached(id: string): T | undefined {
    const entry = this.#cache.get(id);
    const record = entry?.settled?.record;
    if (!record || record.suspended || (entry as CacheEntry<T>).expiresAt <= Date.now()) return undefined;
    return record;
  }

  /** Forgets cached lookups (one id, or all). */
  invalidate(id?: string): void {
    if (id === undefined) this.#cache.clear();
    else this.#cache.delete(id);
  }

  private lookup(id: string): Promise<T | undefined> {
    if (this.ttlMs <= 0) return this.store.find(id);
    const now = Date.now();
    const cached = this.#cache.get(id);
    if (cached && cached.expiresAt > now) return cached.lookup;
    const lookup = this.store.find(id);
    const entry: CacheEntry<T> = { lookup, expiresAt: now + this.ttlMs };
    lookup.then(
      (record) => void (entry.settled = { record }),
      // a failed lookup is not cached: the next request asks the store again
      () => this.#cache.get(id) === entry && this.#cache.delete(id),
    );
    if (this.#cache.size >= MAX_CACHED_LOOKUPS) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(id, entry);
    return lookup;
  }
}
