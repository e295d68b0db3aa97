import { Counter, Gauge, type Registry, register as globalRegistry } from 'prom-client';
import type { TenantRuntime } from '../../runtime/tenant-runtime.js';
import { TenancyMetricsState } from '../../observability/tenancy-metrics-state.js';

export interface TenancyMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global registry (`register`). */
  registry?: Registry;
  /** Prefix of every metric name. Default `tenancy_`. */
  prefix?: string;
  /** Tenants with a `tenant` series of their own in `units_total`; the others add up in `(other)`. Default 20. */
  topTenants?: number;
}

type Collect<M> = (this: M) => void;

/**
 * Registers the tenancy metrics of one tenant runtime and starts counting; returns what stops counting and removes
 * them from the registry. Values are read at scrape time (prom-client's `collect`), never on the request path.
 */
export function registerTenancyMetrics(tenants: TenantRuntime, options: TenancyMetricsOptions = {}): () => void {
  const registry = options.registry ?? globalRegistry;
  const prefix = options.prefix ?? 'tenancy_';
  const state = new TenancyMetricsState(options.topTenants ?? 20);
  const names: string[] = [];
  const gauge = (name: string, help: string, collect: Collect<Gauge>): void => {
    names.push(prefix + name);
    new Gauge({ name: prefix + name, help, registers: [registry], collect });
  };
  const counter = <L extends string>(name: string, help: string, labelNames: L[], values: () => Iterable<[Record<L, string>, number]>): void => {
    names.push(prefix + name);
    new Counter<L>({
      name: prefix + name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Counter<L>) {
        this.reset();
        for (const [labels, value] of values()) this.inc(labels as Parameters<Counter<L>['inc']>[0] & object, value);
      },
    });
  };

  gauge('units_in_flight', 'Units of tenant work running now (database mode: each holds a lease on its tenant ORM)', function () {
    this.set(state.inFlight);
  });
  gauge('units_waiting', 'Units of work waiting to enter their tenant (lookup, opening it, a free slot of the tenant ORM pool)', function () {
    this.set(state.waiting);
  });
  counter('units_total', 'Units of tenant work started, per tenant: the busiest tenants by name, the others as (other)', ['tenant'], () =>
    state.units.series().map(({ tenant, count }) => [{ tenant }, count]),
  );
  counter('refusals_total', 'Units of work refused entry to their tenant, by HTTP status and error class (503: unavailable, pool exhausted, being dropped)', ['status', 'error'], () =>
    [...state.refusals].map(([key, count]) => {
      const [status, error] = key.split(':') as [string, string];
      return [{ status, error }, count];
    }),
  );
  const operations = (migrations: boolean) =>
    [...state.operations].filter(([key]) => key.startsWith('migrate:') === migrations);
  counter('lifecycle_operations_total', 'Tenant lifecycle operations (create, drop, suspend, resume) by outcome', ['operation', 'outcome'], () =>
    operations(false).flatMap(([operation, counts]) => [
      [{ operation, outcome: 'ok' }, counts.ok],
      [{ operation, outcome: 'error' }, counts.error],
    ]),
  );
  counter('tenant_migrations_total', 'Migration runs on one tenant (applied or up to date: ok), by direction and outcome', ['direction', 'outcome'], () =>
    operations(true).flatMap(([key, counts]) => {
      const direction = key.slice('migrate:'.length);
      return [
        [{ direction, outcome: 'ok' }, counts.ok],
        [{ direction, outcome: 'error' }, counts.error],
      ];
    }),
  );
  counter('tenant_migration_seconds_total', 'Seconds spent migrating tenants, by direction', ['direction'], () =>
    operations(true).map(([key, counts]) => [{ direction: key.slice('migrate:'.length) }, counts.seconds]),
  );
  if (tenants.isolation.kind === 'database') registerPoolMetrics(tenants, gauge, counter);

  const removeObserver = tenants.observers.add(state);
  return () => {
    removeObserver();
    for (const name of names) registry.removeSingleMetric(name);
  };
}

/** The tenant ORM pool of database mode, from the numbers its health report shows. */
function registerPoolMetrics(
  tenants: TenantRuntime,
  gauge: (name: string, help: string, collect: Collect<Gauge>) => void,
  counter: (name: string, help: string, labels: never[], values: () => Iterable<[Record<never, string>, number]>) => void,
): void {
  const stat = (key: string): number => {
    const value = tenants.isolation.health().details[key];
    return typeof value === 'number' ? value : 0;
  };
  gauge('pool_open_tenants', 'Tenant ORMs open in the pool (database mode)', function () {
    this.set(stat('open'));
  });
  gauge('pool_closing_tenants', 'Tenant ORMs closing (evicted or idle), still counted against the budget', function () {
    this.set(stat('closing'));
  });
  gauge('pool_max_open_tenants', 'The pool bound: tenancy.pool.maxOpenTenants', function () {
    this.set(stat('maxOpenTenants'));
  });
  counter('pool_opened_total', 'Tenant ORMs opened since boot', [], () => [[{}, stat('opened')]]);
  counter('pool_evictions_total', 'Idle tenant ORMs evicted to make room for another tenant since boot', [], () => [[{}, stat('evicted')]]);
}
