/** A closed-loop HTTP load: `workers` clients sending requests back to back until stopped, every outcome recorded. */
export interface Outcome {
  /** ms since the loop started */
  at: number;
  status: number | 'timeout' | 'network';
  ms: number;
  tenant: string;
  /** what the request wrote, when it was a write */
  title?: string;
}

export interface LoadLoop {
  readonly outcomes: Outcome[];
  /** ms since the loop started */
  now(): number;
  stop(): Promise<void>;
}

export function startLoadLoop(workers: number, send: (worker: number, seq: number) => Promise<Omit<Outcome, 'at' | 'ms'>>): LoadLoop {
  const started = performance.now();
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let seq = 0; running; seq++) {
      const at = performance.now() - started;
      const result = await send(worker, seq);
      outcomes.push({ ...result, at, ms: performance.now() - started - at });
    }
  });
  return {
    outcomes,
    now: () => performance.now() - started,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
