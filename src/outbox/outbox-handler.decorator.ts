import type { EntityManager } from '@mikro-orm/core';
import { SetMetadata } from '@nestjs/common';

/** What a handler receives: one message, its payload a copy (changing it changes nothing stored). */
export interface OutboxDelivery<P = unknown> {
  id: string;
  topic: string;
  key: string;
  payload: P;
  /** The receiving static context: the handler runs in a transaction on it. */
  to: string;
  /** The sender: a static context, or the tenant context and the tenant (the handler runs in that tenant's scope). */
  source: { context: string; tenantId?: string };
  /** 1 for the first attempt. */
  attempt: number;
  createdAt: Date;
}

export interface OutboxHandlerOptions {
  /**
   * Handle `topic` only for messages sent to this context. Default: for any destination (`to`) that has no handler
   * of its own for the topic.
   */
  context?: string;
}

/**
 * The signature of a handler method: `em` is a fork of the receiving context inside the delivery's transaction.
 * Whatever it persists is flushed and committed together with the receipt that makes a redelivery a no-op; the
 * context's injected EntityManager and repositories resolve to that same transaction while it runs.
 */
export type OutboxHandlerMethod<P = unknown> = (delivery: OutboxDelivery<P>, em: EntityManager) => unknown;

export const OUTBOX_HANDLER_METADATA = 'nestjs-mikro-tenancy:outbox-handler';

export interface OutboxHandlerMetadata extends OutboxHandlerOptions {
  topic: string;
}

/**
 * Marks a method of a provider as the handler of an outbox topic:
 * `@OutboxHandler('user.created') onUserCreated(delivery: OutboxDelivery<UserCreated>, em: EntityManager) {...}`.
 * Found at boot on every (non request-scoped) provider, like `@nestjs/schedule`'s `@Cron()`.
 */
export const OutboxHandler = (topic: string, options: OutboxHandlerOptions = {}): MethodDecorator =>
  SetMetadata<string, OutboxHandlerMetadata>(OUTBOX_HANDLER_METADATA, { topic, ...options });
