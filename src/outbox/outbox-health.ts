import type { OutboxPassCounts } from './outbox-batch.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { OutboxStatusReport } from './outbox-status.js';

/** When the outbox counts as down for a health check. Without any, it is always up and its numbers are shown. */
export interface OutboxHealthOptions {
  /** Down when more messages than this are dead. */
  maxDead?: number;
  /** Down when a message has been pending for longer than this (ms): the relay is not keeping up, or a receiver is down. */
  maxPendingAgeMs?: number;
}

export interface OutboxHealthDetails {
  relay: 'running' | 'stopped';
  /** `relay`: what the relay's last passes saw (no query made for the check); `status`: read now (no sweep yet). */
  from: 'relay' | 'status';
  pending: number;
  dead: number;
  oldestPendingAgeMs: number | null;
  /** Sources holding dead messages (at most 10 listed). */
  deadIn: string[];
  /** Sources the last look could not read, and why (at most 10 listed). */
  failing: { source: string; error: string }[];
  /** What the background relay did since boot. */
  sinceBoot: OutboxPassCounts;
  lastSweepAt: string | null;
}

const LISTED = 10;

/** The health of the outbox, from the relay's last passes when it has swept, else from `readNow()`. */
export async function outboxHealth(relay: OutboxRelay, readNow: () => Promise<OutboxStatusReport>, limits: OutboxHealthOptions): Promise<{ healthy: boolean; problems: string[]; details: OutboxHealthDetails }> {
  const seen = relay.observations();
  const now = Date.now();
  let pending = 0;
  let dead = 0;
  let oldest: number | null = null;
  const deadIn: string[] = [];
  let failing: { source: string; error: string }[] = [];
  const fromRelay = seen.lastSweepAt !== undefined;
  if (fromRelay) {
    for (const [source, observation] of seen.sources) {
      if (observation.error !== undefined) failing.push({ source, error: observation.error });
      const counts = observation.counts;
      if (!counts) continue;
      pending += counts.pending;
      dead += counts.dead;
      if (counts.dead) deadIn.push(source);
      if (counts.oldestPendingAt) oldest = Math.min(oldest ?? Infinity, counts.oldestPendingAt.getTime());
    }
  } else {
    const status = await readNow();
    ({ pending, dead } = status.totals);
    failing = status.errors;
    for (const s of status.sources) {
      if (s.dead) deadIn.push(s.source);
      if (s.oldestPendingAt) oldest = Math.min(oldest ?? Infinity, s.oldestPendingAt.getTime());
    }
  }
  const oldestPendingAgeMs = oldest === null ? null : Math.max(0, now - oldest);
  const problems: string[] = [];
  if (limits.maxDead !== undefined && dead > limits.maxDead) problems.push(`${dead} dead message(s), more than ${limits.maxDead}`);
  if (limits.maxPendingAgeMs !== undefined && oldestPendingAgeMs !== null && oldestPendingAgeMs > limits.maxPendingAgeMs) {
    problems.push(`a message has been pending for ${oldestPendingAgeMs} ms, more than ${limits.maxPendingAgeMs}`);
  }
  const details: OutboxHealthDetails = {
    relay: relay.running ? 'running' : 'stopped',
    from: fromRelay ? 'relay' : 'status',
    pending,
    dead,
    oldestPendingAgeMs,
    deadIn: deadIn.slice(0, LISTED),
    failing: failing.slice(0, LISTED),
    sinceBoot: seen.sinceBoot,
    lastSweepAt: seen.lastSweepAt?.toISOString() ?? null,
  };
  return { healthy: problems.length === 0, problems, details };
}
