import { drainQueue } from '../tenants/worker-queue.js';
import type { OutboxSource } from './outbox-source.js';

/** A source whose work failed, and why. */
export interface SourceFailure {
  source: OutboxSource;
  error: unknown;
}

/**
 * Runs `fn` for every source, `concurrency` at once. Unlike forEachTenant, one failing source (its database down,
 * its outbox table not migrated) never stops the others: every failure is returned to the caller, which reports it.
 */
export async function eachSource(sources: readonly OutboxSource[], concurrency: number, fn: (source: OutboxSource) => Promise<void>): Promise<SourceFailure[]> {
  const failures: SourceFailure[] = [];
  await drainQueue(sources, concurrency, () => ({
    run: async (source) => {
      try {
        await fn(source);
      } catch (error) {
        failures.push({ source, error });
      }
    },
  }));
  return failures;
}
