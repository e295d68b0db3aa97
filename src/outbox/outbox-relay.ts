import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { databaseUnavailableReason } from '../errors/database-unavailable.error.js';
import { messageOf } from '../errors/message-of.js';
import { ThrottledWarnings } from '../isolation/throttled-warnings.js';
import { OutboxBatch, type OutboxPassCounts, emptyCounts } from './outbox-batch.js';
import { eachSource } from './outbox-fan-out.js';
import { type OutboxCounts, countByStatus } from './outbox-queries.js';
import { type OutboxSelection, type OutboxSource, OutboxSources, describeSource, sourceLabel } from './outbox-source.js';
import { type NormalizedOutboxOptions, OUTBOX_OPTIONS } from './outbox.options.js';

/** What one relay pass did. */
export interface OutboxRelayReport extends OutboxPassCounts {
  /** Sources looked at. */
  sources: number;
  /** Sources that could not be relayed (their database down, their outbox table missing...); the others were. */
  errors: { source: string; error: string }[];
}

/** What the relay last saw of a source: its counts, or why it could not look. */
export interface SourceObservation {
  counts?: OutboxCounts;
  error?: string;
  at: Date;
}

/**
 * Relays in the background: every `intervalMs` the static contexts and the tenants this process added messages for
 * recently, every `sweepIntervalMs` every tenant (the first pass is a sweep, so a restart picks up what a crash left).
 * One pass at a time; the next is scheduled when the last ends, so a slow pass never piles up.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #logger = new Logger('Outbox');
  readonly #warnings = new ThrottledWarnings(this.#logger, 30_000);
  /** Tenants with messages added by this process, until when they are looked at on every tick. */
  readonly #recent = new Map<string, number>();
  readonly #observed = new Map<string, SourceObservation>();
  readonly #sinceBoot = emptyCounts();
  #timer?: NodeJS.Timeout;
  #running?: Promise<void>;
  #started = false;
  #nextSweepAt = 0;
  #lastSweepAt?: Date;

  constructor(
    @Inject(OUTBOX_OPTIONS) private readonly options: NormalizedOutboxOptions,
    @Inject(OutboxSources) private readonly sources: OutboxSources,
    @Inject(OutboxBatch) private readonly batch: OutboxBatch,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.relay.enabled) this.start();
  }

  /** Stops before the ORMs close (Nest runs every onModuleDestroy before any onApplicationShutdown). */
  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  get running(): boolean {
    return this.#started;
  }

  /** Starts the background relay (no-op when running). The first pass runs after one interval, never during boot. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.schedule();
  }

  /** Stops the background relay and waits for a pass in progress to end. */
  async stop(): Promise<void> {
    this.#started = false;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** A message was added in this source: a tenant is then looked at on every tick for a while, not only at sweeps. */
  noteAdded(source: OutboxSource): void {
    // long enough for the adding transaction to commit; a slower one waits for the next sweep
    if (source.kind === 'tenant') this.#recent.set(source.tenantId, Date.now() + Math.max(10_000, 10 * this.options.relay.intervalMs));
  }

  /** Counters since boot, and what the last passes saw of each source. */
  observations(): { sinceBoot: OutboxPassCounts; lastSweepAt?: Date; sources: ReadonlyMap<string, SourceObservation> } {
    return { sinceBoot: { ...this.#sinceBoot }, lastSweepAt: this.#lastSweepAt, sources: this.#observed };
  }

  /** One pass over `selection` (default: every source). `sweep` also prunes delivered messages past their retention. */
  async pass(selection?: OutboxSelection, sweep = true): Promise<OutboxRelayReport> {
    const sources = await this.sources.select(selection);
    const report: OutboxRelayReport = { sources: sources.length, ...emptyCounts(), errors: [] };
    const failures = await eachSource(sources, this.options.relay.concurrency, async (source) => {
      const result = await this.sources.run(source, async (em) => {
        const counts = await this.batch.relay(em, source);
        if (sweep) await this.batch.prune(em);
        this.#observed.set(sourceLabel(source), { counts: await countByStatus(em), at: new Date() });
        return counts;
      });
      if (result) for (const key of Object.keys(result) as (keyof OutboxPassCounts)[]) report[key] += result[key];
    });
    for (const { source, error } of failures) {
      const label = sourceLabel(source);
      report.errors.push({ source: label, error: messageOf(error) });
      this.#observed.set(label, { error: messageOf(error), at: new Date() });
      // one outage fails every source the same way: one line for all of them, not one per tenant
      const reason = databaseUnavailableReason(error);
      this.#warnings.warn(reason ?? label, `Outbox: relaying ${describeSource(source)} failed${reason ? ` (${reason}; others may fail alike)` : ''}: ${messageOf(error)}`);
    }
    for (const key of Object.keys(this.#sinceBoot) as (keyof OutboxPassCounts)[]) this.#sinceBoot[key] += report[key];
    if (sweep && selection === undefined) {
      this.#lastSweepAt = new Date();
      // a tenant dropped (or suspended) since: what was last seen of it no longer counts in health
      const swept = new Set(sources.map(sourceLabel));
      for (const label of this.#observed.keys()) if (!swept.has(label)) this.#observed.delete(label);
    }
    return report;
  }

  private schedule(): void {
    if (!this.#started) return;
    this.#timer = setTimeout(() => {
      this.#running = this.tick().finally(() => {
        this.#running = undefined;
        this.schedule();
      });
    }, this.options.relay.intervalMs);
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const sweep = now >= this.#nextSweepAt;
    if (sweep) this.#nextSweepAt = now + this.options.relay.sweepIntervalMs;
    for (const [tenantId, until] of this.#recent) if (until < now) this.#recent.delete(tenantId);
    try {
      await this.pass(sweep ? undefined : { contexts: this.sources.staticContexts, tenants: [...this.#recent.keys()] }, sweep);
    } catch (error) {
      // listing the tenants failed (the hub is down): the next tick tries again
      this.#warnings.warn('pass', `Outbox: a relay pass failed: ${messageOf(error)}`);
    }
  }
}
