import { messageOf } from '../errors/message-of.js';
import { eachSource } from './outbox-fan-out.js';
import { type DeadMessage, countByStatus, deadMessages } from './outbox-queries.js';
import { type OutboxSelection, type OutboxSources, sourceLabel } from './outbox-source.js';

/** One source's outbox, read now. */
export interface OutboxSourceStatus {
  /** `context:<name>` or `tenant:<id>`. */
  source: string;
  pending: number;
  dead: number;
  delivered: number;
  oldestPendingAt: Date | null;
  /** The oldest dead messages (at most the limit asked for). */
  deadMessages: DeadMessage[];
}

export interface OutboxStatusReport {
  /** True when no message is dead and every source could be read. */
  ok: boolean;
  totals: { pending: number; dead: number; delivered: number };
  /** Sources with an outbox, in selection order (static contexts, then tenants). */
  sources: OutboxSourceStatus[];
  /** Sources that could not be read (their database down, their outbox table not migrated...). */
  errors: { source: string; error: string }[];
}

export async function outboxStatus(sources: OutboxSources, selection: OutboxSelection | undefined, concurrency: number, deadLimit: number): Promise<OutboxStatusReport> {
  const selected = await sources.select(selection);
  const found = new Map<string, OutboxSourceStatus>();
  const failures = await eachSource(selected, concurrency, async (source) => {
    const status = await sources.run(source, async (em) => {
      const counts = await countByStatus(em);
      return { source: sourceLabel(source), ...counts, deadMessages: counts.dead ? await deadMessages(em, deadLimit) : [] };
    });
    if (status) found.set(status.source, status);
  });
  const statuses = selected.map((source) => found.get(sourceLabel(source))).filter((s): s is OutboxSourceStatus => s !== undefined);
  const totals = { pending: 0, dead: 0, delivered: 0 };
  for (const s of statuses) for (const key of ['pending', 'dead', 'delivered'] as const) totals[key] += s[key];
  const errors = failures.map(({ source, error }) => ({ source: sourceLabel(source), error: messageOf(error) }));
  return { ok: totals.dead === 0 && errors.length === 0, totals, sources: statuses, errors };
}
