import type { Logger } from '@nestjs/common';

/** Keys remembered at most; older ones are forgotten first (a flood of distinct keys cannot grow memory). */
const MAX_KEYS = 1_000;

/**
 * During an outage every request fails the same way: per key, the first warning is logged, then at most one per
 * interval carrying the count of those left out, instead of one line per request.
 */
export class ThrottledWarnings {
  readonly #last = new Map<string, { at: number; unreported: number }>();

  constructor(private readonly logger: Logger, private readonly intervalMs = 5_000) {}

  warn(key: string, message: string): void {
    const now = Date.now();
    const last = this.#last.get(key);
    if (last && now - last.at < this.intervalMs) {
      last.unreported++;
      return;
    }
    const more = last?.unreported ? ` (and ${last.unreported} more like it since the last report)` : '';
    this.#last.delete(key); // re-inserted last, so the oldest key is first when trimming
    this.#last.set(key, { at: now, unreported: 0 });
    if (this.#last.size > MAX_KEYS) this.#last.delete(this.#last.keys().next().value as string);
    this.logger.warn(message + more);
  }
}
