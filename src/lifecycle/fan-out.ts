import type { TenantMigrationResult } from './migration-report.js';
import { drainQueue } from '../tenants/worker-queue.js';

/** One worker of a fan-out: owns its connection (or ORM) so that no two tenants ever share migrator state. */
export interface TenantWorker {
  /** Migrates one tenant. Never rejects: a failure is a result with status `failed`. */
  run(tenantId: string): Promise<TenantMigrationResult>;
  close(): Promise<void>;
}

export interface FanOutOptions {
  /** Workers running at once. */
  concurrency: number;
  /** Keep going after a tenant fails (default false: stop taking new tenants, let in-flight ones finish). */
  continueOnError: boolean;
  /** Called as each tenant finishes, in completion order. */
  onResult?: (result: TenantMigrationResult, done: number, total: number) => void;
}

/**
 * Runs every tenant through `concurrency` workers, each made by `createWorker` and closed at the end. Returns one
 * result per tenant in the order given; tenants never started because the run stopped are `skipped`.
 */
export async function fanOut(tenantIds: string[], createWorker: () => TenantWorker, options: FanOutOptions): Promise<TenantMigrationResult[]> {
  const results = new Map<string, TenantMigrationResult>();
  let stoppedBy: string | undefined;
  await drainQueue(
    tenantIds,
    options.concurrency,
    () => {
      const worker = createWorker();
      return {
        run: async (id) => {
          const result = await worker.run(id);
          results.set(id, result);
          if (result.status === 'failed' && !options.continueOnError) stoppedBy ??= id;
          options.onResult?.(result, results.size, tenantIds.length);
        },
        close: () => worker.close(),
      };
    },
    () => stoppedBy !== undefined,
  );
  return tenantIds.map(
    (tenantId) =>
      results.get(tenantId) ?? {
        tenantId,
        status: 'skipped',
        migrations: [],
        durationMs: 0,
        error: `not attempted: the run stopped after tenant '${stoppedBy}' failed (use continueOnError to go on)`,
      },
  );
}
