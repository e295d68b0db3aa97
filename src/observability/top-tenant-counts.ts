/** One series of a bounded per-tenant counter: a tenant's own, or `other` for everything else. */
export interface TenantCountSeries {
  /** A tenant id, or `(other)`. */
  tenant: string;
  count: number;
}

/** Label of the bucket for every tenant without a series of its own (parentheses: never a tenant id by default rules). */
export const OTHER_TENANTS = '(other)';

/**
 * Per-tenant counts with bounded cardinality: at most `limit` tenants have a series of their own, the rest add up in
 * `(other)`, so 10,000 tenants never make 10,000 series. Every series only grows (a valid Prometheus counter): a
 * tenant that gets a slot brings along what it counted since the last scrape (what earlier scrapes showed stays in
 * `(other)`), and what it counted goes back to `(other)` if it loses its slot. Slots are given at `series()` time
 * (each scrape) to the busiest tenants since boot: free slots first, then a tenant with at least twice the count of
 * the quietest slot holder takes its slot (the margin keeps slots from flapping between tenants of similar weight).
 * Counts are kept per tenant ever counted: validated ids of known tenants only, so bounded by the number of tenants.
 */
export class TopTenantCounts {
  /** Per tenant: its count since boot, and how much of it scrapes have shown (in its series or in `(other)`). */
  readonly #tenants = new Map<string, { total: number; shown: number }>();
  /** Slot holders: the part of the tenant's count that is not in its own series (shown in `(other)` before). */
  readonly #slots = new Map<string, number>();
  #sum = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`the number of tenant series must be an integer >= 0, got ${limit}`);
  }

  add(tenantId: string): void {
    const counts = this.#tenants.get(tenantId);
    if (counts) counts.total++;
    else this.#tenants.set(tenantId, { total: 1, shown: 0 });
    this.#sum++;
  }

  /** The series to expose now: one per slot holder (busiest first), then `(other)`. */
  series(): TenantCountSeries[] {
    this.rebalance();
    const own = [...this.#slots].map(([tenant, base]) => ({ tenant, count: this.totalOf(tenant) - base }));
    own.sort((a, b) => b.count - a.count || a.tenant.localeCompare(b.tenant));
    const other = this.#sum - own.reduce((sum, s) => sum + s.count, 0);
    for (const counts of this.#tenants.values()) counts.shown = counts.total;
    return [...own, { tenant: OTHER_TENANTS, count: other }];
  }

  private totalOf(tenantId: string): number {
    return this.#tenants.get(tenantId)?.total ?? 0;
  }

  private rebalance(): void {
    if (this.limit === 0) return;
    const contenders = [...this.#tenants].filter(([id]) => !this.#slots.has(id)).sort((a, b) => b[1].total - a[1].total);
    for (const [id, { total, shown }] of contenders) {
      if (this.#slots.size >= this.limit) {
        const [quietest, quietestTotal] = this.quietestHolder();
        if (total < 2 * quietestTotal) break; // contenders are sorted: no later one qualifies either
        this.#slots.delete(quietest);
      }
      this.#slots.set(id, shown);
    }
  }

  private quietestHolder(): [string, number] {
    let quietest: [string, number] = ['', Number.POSITIVE_INFINITY];
    for (const id of this.#slots.keys()) {
      const total = this.totalOf(id);
      if (total < quietest[1]) quietest = [id, total];
    }
    return quietest;
  }
}
