import { type EntityManager, LockMode } from '@mikro-orm/core';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { messageOf } from '../errors/message-of.js';
import { ThrottledWarnings } from '../isolation/throttled-warnings.js';
import { type DeliveryOutcome, OutboxDeliverer } from './outbox-delivery.js';
import { OutboxMessage } from './outbox-message.entity.js';
import { type OutboxSource, describeSource } from './outbox-source.js';
import { type NormalizedOutboxOptions, OUTBOX_OPTIONS, backoffMs } from './outbox.options.js';

/** What passes did, summed. */
export interface OutboxPassCounts {
  /** Handlers that ran and committed. */
  delivered: number;
  /** Redeliveries found already received (a receipt existed): nothing ran, the message was marked delivered. */
  duplicates: number;
  /** Failed attempts (counted; each is retried with backoff, or dead once maxAttempts is reached). */
  failed: number;
  /** Messages that became dead. */
  deadLettered: number;
  /** Messages left for later because their receiving database was unavailable (not counted as attempts). */
  deferred: number;
}

export const emptyCounts = (): OutboxPassCounts => ({ delivered: 0, duplicates: 0, failed: 0, deadLettered: 0, deferred: 0 });

/** Longest last_error kept (a stack or an SQL message can be long). */
const MAX_ERROR_LENGTH = 2_000;

/**
 * One pass over one source: claims due messages with `for update skip locked` in a transaction on the sender, delivers
 * each in its own transaction on the receiver, records the outcomes, and commits. The row locks are held until the
 * outcomes are written, so no other relay (this process or another) delivers the same message meanwhile. A crash
 * before that commit leaves the messages pending: their redelivery finds the receipts and does nothing.
 */
@Injectable()
export class OutboxBatch {
  readonly #logger = new Logger('Outbox');
  readonly #warnings = new ThrottledWarnings(this.#logger);

  constructor(
    @Inject(OUTBOX_OPTIONS) private readonly options: NormalizedOutboxOptions,
    @Inject(OutboxDeliverer) private readonly deliverer: OutboxDeliverer,
  ) {}

  async relay(em: EntityManager, source: OutboxSource): Promise<OutboxPassCounts> {
    const counts = emptyCounts();
    await em.transactional(async (tx) => {
      const due = await tx.find(
        OutboxMessage,
        { status: 'pending', availableAt: { $lte: new Date() } },
        { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], limit: this.options.relay.batchSize, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE },
      );
      // a receiver found unreachable is not tried again in this pass: its other messages wait untouched
      const unreachable = new Set<string>();
      for (const message of due) {
        if (unreachable.has(message.to)) {
          counts.deferred++;
          continue;
        }
        const outcome = await this.deliverer.deliver(message, source);
        if (outcome.kind === 'unavailable') unreachable.add(message.to);
        this.record(message, outcome, source, counts);
      }
    });
    return counts;
  }

  /** Sweeps only: deletes messages delivered longer ago than retainDeliveredMs. */
  async prune(em: EntityManager): Promise<number> {
    const retain = this.options.retainDeliveredMs;
    if (retain === false) return 0;
    return em.nativeDelete(OutboxMessage, { status: 'delivered', deliveredAt: { $lt: new Date(Date.now() - retain) } });
  }

  private record(message: OutboxMessage, outcome: DeliveryOutcome, source: OutboxSource, counts: OutboxPassCounts): void {
    const where = `Outbox message ${message.id} (topic '${message.topic}', from ${describeSource(source)} to context '${message.to}')`;
    switch (outcome.kind) {
      case 'delivered':
      case 'duplicate':
        counts[outcome.kind === 'delivered' ? 'delivered' : 'duplicates']++;
        message.attempts++;
        message.status = 'delivered';
        message.deliveredAt = new Date();
        return;
      case 'unavailable':
        counts.deferred++;
        message.lastError = `context '${message.to}' unavailable (${outcome.reason}); not counted as an attempt`;
        this.#warnings.warn(`unavailable:${message.to}`, `${where}: context '${message.to}' is unavailable (${outcome.reason}); its messages wait for it: ${messageOf(outcome.error)}`);
        return;
      case 'failed': {
        counts.failed++;
        message.attempts++;
        message.lastError = messageOf(outcome.error).slice(0, MAX_ERROR_LENGTH);
        if (message.attempts >= this.options.maxAttempts) {
          counts.deadLettered++;
          message.status = 'dead';
          this.#logger.error(
            `${where} is dead after ${message.attempts} failed attempts: ${message.lastError}. Fix the cause, then retry it ` +
              `(\`mikro-tenancy outbox retry ${message.id}\`, or Outbox.retry).`,
          );
          return;
        }
        const delay = backoffMs(message.attempts, this.options.backoff);
        message.availableAt = new Date(Date.now() + delay);
        this.#warnings.warn(`failed:${message.to}:${message.topic}`, `${where}: attempt ${message.attempts}/${this.options.maxAttempts} failed, next in ${delay} ms: ${message.lastError}`);
      }
    }
  }
}
