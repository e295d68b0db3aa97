import { TenancyError } from '../errors/tenancy.error.js';
import type { TenancyObserver, TenantOperation } from './tenancy-observers.js';
import { TopTenantCounts } from './top-tenant-counts.js';

/** Outcome counts of one kind of lifecycle operation (`migrate:up`, `create`...). */
export interface OperationCounts {
  ok: number;
  error: number;
  /** Seconds spent, over every run (ok or not). */
  seconds: number;
}

/**
 * What the metrics integrations read at scrape time, kept as plain numbers by a TenancyObserver: units of tenant
 * work running and waiting, per-tenant counts (bounded, TopTenantCounts), refusals by status and error, lifecycle
 * operations and migrations by outcome. The per-request cost is a few increments; the metrics library only works at
 * scrape time. It imports no metrics library, so other backends can read it too.
 */
export class TenancyMetricsState implements TenancyObserver {
  /** Units of tenant work running now (each holds its tenant: in database mode, a lease on its ORM). */
  inFlight = 0;
  /** Units of work waiting to enter their tenant: lookup, opening it, or a free slot of the tenant ORM pool. */
  waiting = 0;
  readonly units: TopTenantCounts;
  /** `status:ErrorClass` -> count. */
  readonly refusals = new Map<string, number>();
  /** `create`, `drop`, `suspend`, `resume`, `migrate:up`, `migrate:down` -> outcomes. */
  readonly operations = new Map<string, OperationCounts>();

  constructor(topTenants: number) {
    this.units = new TopTenantCounts(topTenants);
  }

  entering(): () => void {
    this.waiting++;
    return () => void this.waiting--;
  }

  started(tenantId: string): () => void {
    this.inFlight++;
    this.units.add(tenantId);
    return () => void this.inFlight--;
  }

  refused(error: unknown): void {
    // library errors only by class (a bounded set); anything else (a driver error) as 'other'
    const key = error instanceof TenancyError ? `${error.getStatus()}:${error.name}` : '500:other';
    this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
  }

  async operation<R>(operation: TenantOperation, run: () => Promise<R>): Promise<R> {
    const key = operation.direction ? `${operation.name}:${operation.direction}` : operation.name;
    const counts = this.operations.get(key) ?? { ok: 0, error: 0, seconds: 0 };
    this.operations.set(key, counts);
    const started = performance.now();
    try {
      const result = await run();
      counts.ok++;
      return result;
    } catch (error) {
      counts.error++;
      throw error;
    } finally {
      counts.seconds += (performance.now() - started) / 1000;
    }
  }
}
