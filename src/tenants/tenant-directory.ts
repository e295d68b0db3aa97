import { TenantNotFoundError, TenantSuspendedError } from '../errors/tenant.errors.js';
import { messageOf } from '../errors/message-of.js';
import type { TenantIdValidator } from './tenant-id-rules.js';
import type { TenantRecord, TenantStore } from './tenant-store.js';

/** What a lookup that reached the store answered, and when. */
interface Settled<T> {
  readonly record: T | undefined;
  readonly at: number;
}

interface CacheEntry<T> {
  lookup: Promise<T | undefined>;
  /** Lowered when a stale record was served, so it is never served past its bound. */
  expiresAt: number;
  /** Set once the lookup reached the store: read without a promise on the request path (see `cached`). */
  settled?: Settled<T>;
  /** The last answer of the store before this lookup: served while the store fails (stale-if-error). */
  fallback?: Settled<T>;
}

export interface TenantDirectorySettings {
  /** How long a cached lookup is fresh, in ms; 0 disables the cache (and so stale-if-error). */
  ttlMs: number;
  /** How long past `ttlMs` a cached lookup may still be served while the store fails, in ms; 0 disables that. */
  staleIfErrorMs?: number;
  /** Told when a stale lookup is served (throttle it: during an outage every request would say so). */
  warn?: (message: string) => void;
}

/** Bounds the cache so a flood of random (unknown) ids cannot grow memory without limit. */
const MAX_CACHED_LOOKUPS = 10_000;

/**
 * Validated, cached tenant lookups. Concurrent lookups of one id share one store query; results (including
 * "unknown") are cached for `ttlMs` and dropped on create/drop. While the store fails (hub database down), an id
 * looked up before keeps its last answer for `staleIfErrorMs` more; ids never looked up get the store's error.
 */
export class TenantDirectory<T extends TenantRecord = TenantRecord> {
  readonly #cache = new Map<string, CacheEntry<T>>();
  readonly #ttlMs: number;
  readonly #staleIfErrorMs: number;

  constructor(
    readonly store: TenantStore<T>,
    readonly ids: TenantIdValidator,
    private readonly settings: TenantDirectorySettings,
  ) {
    this.#ttlMs = settings.ttlMs;
    this.#staleIfErrorMs = settings.staleIfErrorMs ?? 0;
  }

  /** The active tenant with this id: 400 if the id is invalid, 404 if unknown, 403 if suspended. */
  async get(id: string): Promise<T> {
    this.ids.validate(id);
    const record = await this.lookup(id);
    if (!record) throw new TenantNotFoundError(id);
    if (record.suspended) throw new TenantSuspendedError(id);
    return record;
  }

  /**
   * The active tenant with this id when its lookup is cached, fresh and settled, without a promise; undefined
   * otherwise (not cached, expired, still in flight, served stale, unknown or suspended: `get` answers those). A
   * cached id was validated when it was first looked up, so it is not validated again.
   */
  cached(id: string): T | undefined {
    const entry = this.#cache.get(id);
    const record = entry?.settled?.record;
    if (!record || record.suspended || (entry as CacheEntry<T>).expiresAt <= Date.now()) return undefined;
    return record;
  }

  /** Forgets cached lookups (one id, or all), stale ones included: a forgotten answer is never served again. */
  invalidate(id?: string): void {
    if (id === undefined) this.#cache.clear();
    else this.#cache.delete(id);
  }

  private lookup(id: string): Promise<T | undefined> {
    if (this.#ttlMs <= 0) return this.store.find(id);
    const now = Date.now();
    const cached = this.#cache.get(id);
    if (cached && cached.expiresAt > now) return cached.lookup;
    // the last answer the store gave, kept across lookups that failed, so its age counts from that answer
    const fallback = this.#staleIfErrorMs > 0 ? (cached?.settled ?? cached?.fallback) : undefined;
    const entry: CacheEntry<T> = { lookup: Promise.resolve(undefined), expiresAt: now + this.#ttlMs, fallback };
    entry.lookup = this.store.find(id).then(
      (record) => {
        entry.settled = { record, at: Date.now() };
        return record;
      },
      (error: unknown) => this.failed(id, entry, error),
    );
    if (this.#cache.size >= MAX_CACHED_LOOKUPS) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(id, entry);
    return entry.lookup;
  }

  /** The store failed: the last answer while it is young enough (and not forgotten meanwhile), else the error. */
  private failed(id: string, entry: CacheEntry<T>, error: unknown): T | undefined {
    const current = this.#cache.get(id) === entry;
    const staleUntil = entry.fallback ? entry.fallback.at + this.#ttlMs + this.#staleIfErrorMs : 0;
    const now = Date.now();
    if (!current || !entry.fallback || staleUntil <= now) {
      // not cached: the next request asks the store again
      if (current) this.#cache.delete(id);
      throw error;
    }
    // kept until it expires (at most until its bound), so an outage costs one store call per id per ttl
    entry.expiresAt = Math.min(entry.expiresAt, staleUntil);
    const bound = this.#ttlMs + this.#staleIfErrorMs;
    this.settings.warn?.(
      `The tenant store is unreachable (${messageOf(error)}): serving cached tenant lookups past their ttl, this one ` +
        `${now - entry.fallback.at} ms old (tenant '${id}'); each is served up to ${bound} ms after the store last ` +
        `answered (cacheTtlMs + staleIfErrorMs), ids not cached get 503. Bring the tenant store's database back.`,
    );
    return entry.fallback.record;
  }
}
