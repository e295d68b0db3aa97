import type { Logger } from '@nestjs/common';
import { messageOf } from '../errors/message-of.js';

/**
 * Publishes the same change every `everyMs` between start() and stop(), one at a time; stop() waits for a publish
 * under way, so nothing is published after it returns. A failed publish is logged; the next one tries again.
 */
export class RepeatedPublish {
  #timer?: NodeJS.Timeout;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly publish: () => Promise<void>,
    private readonly everyMs: number,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#inFlight = this.#inFlight.then(() => this.publish()).catch((error: unknown) => this.logger.warn(`Renewing a tenant change failed: ${messageOf(error)}`));
    }, this.everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }
}
