import { EntitySchema, type Opt } from '@mikro-orm/core';

/** Where a message is: waiting for (another) delivery, delivered, or given up on after `maxAttempts` failures. */
export type OutboxMessageStatus = 'pending' | 'delivered' | 'dead';

/**
 * A message for another context, written in the sender's own transaction (`Outbox.add(em, ...)`): a row of
 * `mikro_tenancy_outbox` in the sending context's database (a tenant's: in its schema or database). Add this class to
 * the `entities` of every context that sends (static contexts, and the tenant template), then generate a migration.
 */
export class OutboxMessage {
  /** A random UUID, made when the message is added. */
  id!: string;
  topic!: string;
  /** The static context whose handler receives it (its `@OutboxHandler` runs in a transaction on that context). */
  to!: string;
  /** What the receiver deduplicates on, per sender and topic (default: the id, i.e. every message takes effect once). */
  key!: string;
  /** JSON (stored as jsonb on PostgreSQL). */
  payload!: unknown;
  status: Opt<OutboxMessageStatus> = 'pending';
  /** Delivery attempts made, including the successful one. An unreachable receiver is not counted. */
  attempts: Opt<number> = 0;
  /** Not delivered before this moment (retries back off by moving it). */
  availableAt!: Date;
  createdAt!: Date;
  deliveredAt?: Date | null;
  lastError?: string | null;
}

// `to` and `key` are keywords of SQL (reserved or not depending on the database): columns with plain names instead
export const OutboxMessageSchema = new EntitySchema<OutboxMessage>({
  class: OutboxMessage,
  tableName: 'mikro_tenancy_outbox',
  properties: {
    id: { type: 'uuid', primary: true },
    topic: { type: 'string', length: 255 },
    to: { type: 'string', length: 255, fieldName: 'destination' },
    key: { type: 'string', length: 255, fieldName: 'message_key' },
    payload: { type: 'json' },
    status: { type: 'string', length: 16 },
    attempts: { type: 'integer' },
    availableAt: { type: 'datetime' },
    createdAt: { type: 'datetime' },
    deliveredAt: { type: 'datetime', nullable: true },
    lastError: { type: 'text', nullable: true },
  },
  // the relay's claim: pending messages that are due, oldest first
  indexes: [{ name: 'mikro_tenancy_outbox_due_idx', properties: ['status', 'availableAt'] }],
});
