/** One worker of a queue: takes items one at a time; closed when the queue is drained or stopped. */
export interface QueueWorker<I> {
  run(item: I): Promise<void>;
  close?(): Promise<void>;
}

/**
 * Runs `items` in order through at most `concurrency` workers (each made by `createWorker`, so it can own a
 * connection). Once `stopped()` is true no new item is taken; items in flight finish. Used wherever work is fanned
 * out over tenants (migrations, TenancyService.forEachTenant), so the bound and the stop rule are written once.
 */
export async function drainQueue<I>(items: readonly I[], concurrency: number, createWorker: () => QueueWorker<I>, stopped: () => boolean = () => false): Promise<void> {
  const queue = [...items];
  const runWorker = async (): Promise<void> => {
    const worker = createWorker();
    try {
      while (queue.length > 0 && !stopped()) await worker.run(queue.shift() as I);
    } finally {
      await worker.close?.();
    }
  };
  const workers = Math.max(1, Math.min(concurrency, queue.length));
  await Promise.all(Array.from({ length: workers }, runWorker));
}
