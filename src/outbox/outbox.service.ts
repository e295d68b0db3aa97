import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { Inject, Injectable } from '@nestjs/common';
import { messageOf } from '../errors/message-of.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { OutboxHandlerRegistry, checkName } from './outbox-handler-registry.js';
import { OutboxMessage } from './outbox-message.entity.js';
import { OutboxReceipt } from './outbox-receipt.entity.js';
import { OutboxRelay, type OutboxRelayReport } from './outbox-relay.js';
import { type OutboxSelection, type OutboxSource, OutboxSources, sourceLabel } from './outbox-source.js';
import { type OutboxStatusReport, outboxStatus } from './outbox-status.js';
import { OutboxSetupError, OutboxUsageError, missingEntityMessage } from './outbox.errors.js';
import { type NormalizedOutboxOptions, OUTBOX_OPTIONS } from './outbox.options.js';
import { eachSource } from './outbox-fan-out.js';
import { retryMessages } from './outbox-queries.js';
import { type OutboxHealthDetails, type OutboxHealthOptions, outboxHealth } from './outbox-health.js';

/** A message to add: for the handler of `topic` in the static context `to`. */
export interface OutboxMessageInput<P = unknown> {
  to: string;
  topic: string;
  /** Deduplication key: at most one delivery per (sender, topic, key) takes effect. Default: the message's own id. */
  key?: string;
  /** Anything JSON can carry (stored as jsonb). */
  payload: P;
}

/** What retry() reset, per source. */
export interface OutboxRetryResult {
  retried: { source: string; id: string }[];
  errors: { source: string; error: string }[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The transactional outbox across contexts. `add(em, ...)` writes a message through the sender's EntityManager, so it
 * commits or rolls back with the sender's own writes; the relay then delivers it at least once to its handler in the
 * receiving context, where a receipt makes every redelivery a no-op.
 */
@Injectable()
export class Outbox {
  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(OUTBOX_OPTIONS) private readonly options: NormalizedOutboxOptions,
    @Inject(OutboxHandlerRegistry) private readonly handlers: OutboxHandlerRegistry,
    @Inject(OutboxSources) private readonly sources: OutboxSources,
    @Inject(OutboxRelay) readonly relay: OutboxRelay,
  ) {}

  /** The tenant context's name, or undefined without tenancy. */
  get tenantContextName(): string | undefined {
    return this.runtime.tenantContextName;
  }

  /**
   * Adds a message in the unit of work of `em` (a static context's EntityManager, or the current tenant's): it is
   * inserted by the next flush, in the same transaction as the other changes of that flush (or of your
   * `em.transactional(...)`). Throws, naming the fix, when `em`'s context has no outbox, `to` cannot receive, or no
   * handler takes the topic there.
   */
  add<P>(em: EntityManager, message: OutboxMessageInput<P>): OutboxMessage {
    const usage = `Outbox.add(em, { to: '${String(message.to)}', topic: '${String(message.topic)}' })`;
    const source = this.sourceOf(em, usage);
    const topic = checkName('topic', message.topic, usage);
    const key = message.key === undefined ? undefined : checkName('key', message.key, usage);
    this.checkDestination(message.to, topic, usage);
    if (source.kind === 'context' && source.context === message.to) {
      // one database needs no outbox; and the delivery would wait for a second connection of the pool the claim holds one of
      throw new OutboxUsageError(`${usage}: the message would stay in context '${message.to}': write what its handler writes in the same transaction instead`);
    }
    const id = randomUUID();
    const now = new Date();
    const entity = em.create(OutboxMessage, { id, topic, to: message.to, key: key ?? id, payload: message.payload as unknown, status: 'pending', attempts: 0, availableAt: now, createdAt: now });
    em.persist(entity); // also under `persistOnCreate: false`
    if (source.kind === 'context' || source.tenantId !== undefined) this.relay.noteAdded(source);
    return entity;
  }

  /** One relay pass now over `selection` (default: every source), whatever the background relay does. */
  relayOnce(selection?: OutboxSelection): Promise<OutboxRelayReport> {
    return this.relay.pass(selection);
  }

  /** Counts per source and the dead messages (at most `deadLimit` per source, default 20), read now. */
  status(selection?: OutboxSelection, deadLimit = 20): Promise<OutboxStatusReport> {
    return outboxStatus(this.sources, selection, this.options.relay.concurrency, deadLimit);
  }

  /**
   * Makes messages due again with a fresh count of attempts: one by id (dead, or pending and backing off), or every
   * dead one (`{ dead: true }`), in every source of `selection` (default all). Delivered messages are never touched.
   */
  async retry(target: string | { dead: true }, selection?: OutboxSelection): Promise<OutboxRetryResult> {
    if (typeof target === 'string' && !UUID.test(target)) throw new OutboxUsageError(`Outbox.retry: '${target.slice(0, 80)}' is not a message id (a UUID, as status() and \`mikro-tenancy outbox status\` show it)`);
    const result: OutboxRetryResult = { retried: [], errors: [] };
    const sources = await this.sources.select(selection);
    const failures = await eachSource(sources, this.options.relay.concurrency, async (source) => {
      const ids = await this.sources.run(source, (em) => retryMessages(em, typeof target === 'string' ? { id: target } : target));
      if (ids?.length) this.relay.noteAdded(source);
      for (const id of ids ?? []) result.retried.push({ source: sourceLabel(source), id });
    });
    for (const { source, error } of failures) result.errors.push({ source: sourceLabel(source), error: messageOf(error) });
    return result;
  }

  /**
   * For health checks: pending and dead messages, the age of the oldest pending one, failing sources. Taken from the
   * relay's last passes (no query) once it has swept every source, read now before that. `healthy` is false when a
   * limit is exceeded.
   */
  health(limits: OutboxHealthOptions = {}): Promise<{ healthy: boolean; problems: string[]; details: OutboxHealthDetails }> {
    return outboxHealth(this.relay, () => this.status(), limits);
  }

  /**
   * The sender `em` writes for: a static context, or a tenant (`undefined` tenant when it is not the current one, e.g.
   * a handle from TenancyService.open: the sweep relays it). Anything else could never be relayed, so it throws.
   */
  private sourceOf(em: EntityManager, usage: string): OutboxSource | { kind: 'tenant'; tenantId?: undefined } {
    const contextName = em.config.get('contextName');
    const tenantContext = this.runtime.tenantContextName;
    const isStatic = this.runtime.contextNames.includes(contextName) && this.runtime.orm(contextName).config === em.config;
    // tenant ORMs are named after the tenant context: `tenant` (schema mode), `tenant:<id>` (database mode)
    const isTenant = !isStatic && tenantContext !== undefined && (contextName === tenantContext || contextName.startsWith(`${tenantContext}:`));
    if (!isStatic && !isTenant) {
      throw new OutboxUsageError(
        `${usage}: this EntityManager belongs to no context of MikroTenancyModule (a static context, or a tenant's). ` +
          `Pass the EntityManager the data is written with: an injected one, or the one your em.transactional() callback gets.`,
      );
    }
    const name = isStatic ? contextName : (tenantContext as string);
    if (!em.getMetadata().find(OutboxMessage)) throw new OutboxSetupError(missingEntityMessage(name, 'OutboxMessage', usage));
    if (isStatic) return { kind: 'context', context: contextName };
    const current = this.runtime.context.currentTenant();
    const same = current !== undefined && current.em.config === em.config && current.em.schema === em.schema;
    return same ? { kind: 'tenant', tenantId: current.id } : { kind: 'tenant' };
  }

  private checkDestination(to: string, topic: string, usage: string): void {
    if (typeof to !== 'string' || !this.runtime.contextNames.includes(to)) {
      const tenant = to === this.runtime.tenantContextName ? ' Messages go to static contexts; the tenant context cannot receive them.' : '';
      throw new OutboxSetupError(`${usage}: '${String(to)}' is not a static context (static contexts: ${this.runtime.contextNames.join(', ') || 'none'}).${tenant}`);
    }
    if (!this.runtime.orm(to).getMetadata().find(OutboxReceipt)) throw new OutboxSetupError(missingEntityMessage(to, 'OutboxReceipt', usage));
    if (!this.handlers.find(topic, to)) {
      throw new OutboxSetupError(`${usage}: no @OutboxHandler takes topic '${topic}' in context '${to}'. Add a provider method with @OutboxHandler('${topic}') (or { context: '${to}' }).`);
    }
  }
}
