import { OTHER_TENANTS, type TenantCountSeries, TopTenantCounts } from '../../src/observability/top-tenant-counts.js';

const count = (counts: TopTenantCounts, tenant: string, times: number): void => {
  for (let i = 0; i < times; i++) counts.add(tenant);
};
const asObject = (series: TenantCountSeries[]) => Object.fromEntries(series.map((s) => [s.tenant, s.count]));

describe('TopTenantCounts: per-tenant counts with bounded cardinality', () => {
  it('names the busiest tenants, adds up the rest in (other), and keeps the total', () => {
    const counts = new TopTenantCounts(2);
    count(counts, 'a', 5);
    count(counts, 'b', 3);
    count(counts, 'c', 1);
    count(counts, 'd', 1);
    expect(counts.series()).toEqual([
      { tenant: 'a', count: 5 },
      { tenant: 'b', count: 3 },
      { tenant: OTHER_TENANTS, count: 2 },
    ]);
  });

  it('never has more than limit + 1 series, whatever the number of tenants', () => {
    const counts = new TopTenantCounts(3);
    for (let t = 0; t < 10_000; t++) count(counts, `t${t}`, 1 + (t % 7));
    const series = counts.series();
    expect(series).toHaveLength(4);
    expect(series.reduce((sum, s) => sum + s.count, 0)).toBe([...Array(10_000).keys()].reduce((sum, t) => sum + 1 + (t % 7), 0));
  });

  it('keeps every series growing across scrapes while a new busiest tenant takes a slot (counters never go down)', () => {
    const counts = new TopTenantCounts(1);
    const scrapes: Record<string, number>[] = [];
    count(counts, 'a', 2);
    count(counts, 'b', 1);
    scrapes.push(asObject(counts.series()));
    count(counts, 'b', 3); // b: 4, a: 2 -> b has twice a's count: it takes the slot
    scrapes.push(asObject(counts.series()));
    count(counts, 'b', 1);
    count(counts, 'a', 1);
    scrapes.push(asObject(counts.series()));
    expect(scrapes).toEqual([
      { a: 2, [OTHER_TENANTS]: 1 },
      // b brings the 3 counted since the last scrape; its first 1 was shown in (other) and stays there; a's 2 go back
      { b: 3, [OTHER_TENANTS]: 3 },
      { b: 4, [OTHER_TENANTS]: 4 },
    ]);
    for (let i = 1; i < scrapes.length; i++) expect(scrapes[i]![OTHER_TENANTS]).toBeGreaterThanOrEqual(scrapes[i - 1]![OTHER_TENANTS]!);
  });

  it('does not swap slots between tenants of similar weight', () => {
    const counts = new TopTenantCounts(1);
    count(counts, 'a', 10);
    counts.series();
    count(counts, 'b', 15); // more than a, but not twice as much
    expect(asObject(counts.series())).toEqual({ a: 10, [OTHER_TENANTS]: 15 });
  });

  it('with limit 0 counts everything in (other)', () => {
    const counts = new TopTenantCounts(0);
    count(counts, 'a', 3);
    expect(counts.series()).toEqual([{ tenant: OTHER_TENANTS, count: 3 }]);
  });
});
