import { TenantNotFoundError, TenantSuspendedError } from '../errors/tenant.errors.js';
import type { TenantIdValidator } from './tenant-id-rules.js';
import type { TenantRecord, TenantStore } from './tenant-store.js';

interface CacheEntry<T> {
  readonly lookup: Promise<T | undefined>;
  readonly expiresAt: number;
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
    // a failed lookup is not cached: the next request asks the store again
    lookup.catch(() => this.#cache.get(id)?.lookup === lookup && this.#cache.delete(id));
    if (this.#cache.size >= MAX_CACHED_LOOKUPS) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(id, { lookup, expiresAt: now + this.ttlMs });
    return lookup;
  }
}
