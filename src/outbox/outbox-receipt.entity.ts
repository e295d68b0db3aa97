import { EntitySchema, type PrimaryKeyProp } from '@mikro-orm/core';

/**
 * Proof that a message took effect in a receiving context: a row of `mikro_tenancy_outbox_receipt`, inserted in the
 * same transaction as the handler's writes. A redelivery (the sender died before it could mark the message delivered)
 * finds the receipt and does nothing. Add this class to the `entities` of every context that receives, then generate a
 * migration. Receipts are never deleted by the library: see docs/consistency.md for pruning them.
 */
export class OutboxReceipt {
  declare [PrimaryKeyProp]?: ['source', 'topic', 'key'];
  /** The sender: `tenant:<id>` or `context:<name>`. */
  source!: string;
  topic!: string;
  key!: string;
  messageId!: string;
  receivedAt!: Date;
}

export const OutboxReceiptSchema = new EntitySchema<OutboxReceipt>({
  class: OutboxReceipt,
  tableName: 'mikro_tenancy_outbox_receipt',
  properties: {
    source: { type: 'string', length: 255, primary: true },
    topic: { type: 'string', length: 255, primary: true },
    key: { type: 'string', length: 255, primary: true, fieldName: 'message_key' },
    messageId: { type: 'uuid' },
    receivedAt: { type: 'datetime' },
  },
});
