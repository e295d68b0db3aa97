import type { SqlEntityManager } from '@mikro-orm/sql';
import { Inject, Injectable } from '@nestjs/common';
import { databaseUnavailableReason } from '../errors/database-unavailable.error.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import type { OutboxDelivery } from './outbox-handler.decorator.js';
import { OutboxHandlerRegistry } from './outbox-handler-registry.js';
import type { OutboxMessage } from './outbox-message.entity.js';
import { OutboxReceipt } from './outbox-receipt.entity.js';
import { type OutboxSource, sourceLabel } from './outbox-source.js';
import { OutboxSetupError, missingEntityMessage } from './outbox.errors.js';

/**
 * What one delivery attempt came to:
 * - `delivered`: the handler ran, and its writes and the receipt were committed together;
 * - `duplicate`: a receipt was there already (an earlier delivery committed, but its sender never marked it): nothing ran;
 * - `unavailable`: the receiving database could not be reached; not the message's fault, so not counted as an attempt;
 * - `failed`: the handler (or the set-up) failed; counted, retried with backoff, dead after maxAttempts.
 */
export type DeliveryOutcome =
  | { kind: 'delivered' | 'duplicate' }
  | { kind: 'unavailable'; reason: string; error: unknown }
  | { kind: 'failed'; error: unknown };

/** Delivers one message into its receiving context: receipt first, then the handler, in one transaction there. */
@Injectable()
export class OutboxDeliverer {
  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(OutboxHandlerRegistry) private readonly handlers: OutboxHandlerRegistry,
  ) {}

  async deliver(message: OutboxMessage, source: OutboxSource): Promise<DeliveryOutcome> {
    try {
      const handler = this.handlers.find(message.topic, message.to);
      if (!handler) {
        throw new OutboxSetupError(
          `No @OutboxHandler for topic '${message.topic}' (message ${message.id} to context '${message.to}'): register one, ` +
            `then retry the message (\`mikro-tenancy outbox retry ${message.id}\`) if it went dead meanwhile.`,
        );
      }
      const orm = this.runtime.orm(message.to);
      if (!orm.getMetadata().find(OutboxReceipt)) throw new OutboxSetupError(missingEntityMessage(message.to, 'OutboxReceipt', `Delivering message ${message.id}`));
      const delivery = this.deliveryOf(message, source);
      // a fresh fork: never joins a transaction of the sender, even when sender and receiver are the same context
      const duplicate = await orm.em.fork().transactional(async (em) => {
        // the unique key (source, topic, key) makes this the dedup: a concurrent or later delivery of the same key waits
        // for this transaction, then inserts nothing
        const inserted = await (em as SqlEntityManager)
          .createQueryBuilder(OutboxReceipt)
          .insert({ source: sourceLabel(source), topic: message.topic, key: message.key, messageId: message.id, receivedAt: new Date() })
          .onConflict(['source', 'topic', 'key'])
          .ignore()
          .execute<{ affectedRows: number }>('run');
        if (inserted.affectedRows === 0) return true;
        await handler.call(delivery, em);
        return false;
      });
      return { kind: duplicate ? 'duplicate' : 'delivered' };
    } catch (error) {
      const reason = databaseUnavailableReason(error);
      return reason === undefined ? { kind: 'failed', error } : { kind: 'unavailable', reason, error };
    }
  }

  private deliveryOf(message: OutboxMessage, source: OutboxSource): OutboxDelivery {
    const context = source.kind === 'context' ? source.context : (this.runtime.tenantContextName as string);
    return {
      id: message.id,
      topic: message.topic,
      key: message.key,
      // a copy: the message is a managed entity of the sender, whose flush would store what a handler changed in it
      payload: structuredClone(message.payload),
      to: message.to,
      source: source.kind === 'tenant' ? { context, tenantId: source.tenantId } : { context },
      attempt: message.attempts + 1,
      createdAt: message.createdAt,
    };
  }
}
