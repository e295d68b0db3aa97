import { type EntityManager, LockMode, raw } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { OutboxMessage, type OutboxMessageStatus } from './outbox-message.entity.js';

/** Messages of one source by status, and when its oldest pending message was added. */
export interface OutboxCounts {
  pending: number;
  dead: number;
  delivered: number;
  oldestPendingAt: Date | null;
}

/** A dead message as the CLI and status() show it. */
export interface DeadMessage {
  id: string;
  topic: string;
  to: string;
  key: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
}

/** Through the query builder, so the tenant's schema (schema mode) qualifies the table as for every other query. */
export async function countByStatus(em: EntityManager): Promise<OutboxCounts> {
  const rows = await (em as SqlEntityManager)
    .createQueryBuilder(OutboxMessage, 'm')
    .select(['m.status', raw('count(*) as n'), raw('min(m.created_at) as oldest')])
    .groupBy('m.status')
    .execute<{ status: OutboxMessageStatus; n: string | number; oldest: Date | string | null }[]>('all', false);
  const counts: OutboxCounts = { pending: 0, dead: 0, delivered: 0, oldestPendingAt: null };
  for (const row of rows) {
    if (row.status !== 'pending' && row.status !== 'dead' && row.status !== 'delivered') continue; // written by hand: not ours to count
    counts[row.status] = Number(row.n);
    if (row.status === 'pending' && row.oldest !== null) counts.oldestPendingAt = new Date(row.oldest);
  }
  return counts;
}

export async function deadMessages(em: EntityManager, limit: number): Promise<DeadMessage[]> {
  const dead = await em.find(OutboxMessage, { status: 'dead' }, { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], limit });
  return dead.map(({ id, topic, to, key, attempts, lastError, createdAt }) => ({ id, topic, to, key, attempts, lastError: lastError ?? null, createdAt }));
}

/**
 * Makes messages due now with a fresh count of attempts: one message by id (dead or still pending), or every dead one.
 * Delivered messages are never touched. Returns the ids retried.
 */
export async function retryMessages(em: EntityManager, target: { id: string } | { dead: true }): Promise<string[]> {
  const where = 'id' in target ? { id: target.id, status: { $in: ['dead', 'pending'] as OutboxMessageStatus[] } } : { status: 'dead' as const };
  return em.transactional(async (tx) => {
    // waits for a relay delivering one of them right now, then sees whether it was delivered meanwhile
    const messages = await tx.find(OutboxMessage, where, { fields: ['id'], lockMode: LockMode.PESSIMISTIC_WRITE });
    if (messages.length === 0) return [];
    await tx.nativeUpdate(OutboxMessage, { id: { $in: messages.map((m) => m.id) } }, { status: 'pending', attempts: 0, availableAt: new Date() });
    return messages.map((m) => m.id);
  });
}
