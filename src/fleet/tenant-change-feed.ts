import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { messageOf } from '../errors/message-of.js';
import { ThrottledWarnings } from '../isolation/throttled-warnings.js';
import { type ListenConnectionOptions, PgChannelListener } from './pg-channel-listener.js';

/**
 * What happened to a tenant, as other app instances must learn it: its record changed (created, updated, suspended,
 * resumed), a drop started (`dropping`: refuse its new work), ended (`dropped`) or was given up (`drop-aborted`), or
 * the final step of a move started (`moving`: hold its new work) and ended (`moved`: serve it from its record again,
 * switched or not).
 */
export type TenantChangeKind = 'created' | 'updated' | 'suspended' | 'resumed' | 'dropping' | 'dropped' | 'drop-aborted' | 'moving' | 'moved';

export interface TenantChange {
  kind: TenantChangeKind;
  tenantId: string;
  /** `dropping`/`moving`: how long the receivers keep the tenant fenced if nothing ends it. */
  fenceMs?: number;
}

export interface TenantChangeFeedSettings {
  /** The PostgreSQL channel. */
  channel: string;
  /** The tenant context the changes are about (several modules may share one channel). */
  tenantContext: string;
  /** The static context whose database carries the notifications. */
  context: string;
  listen?: ListenConnectionOptions;
}

export interface TenantChangeHandlers {
  /** A change made by another instance. */
  change(change: TenantChange): void;
  /**
   * Listening (again): changes made before, or while the connection was lost, were not heard, so every cached
   * lookup is forgotten.
   */
  resync(): void;
}

const KINDS = new Set<string>(['created', 'updated', 'suspended', 'resumed', 'dropping', 'dropped', 'drop-aborted', 'moving', 'moved']);

/**
 * Tenant changes shared by every app instance through the hub PostgreSQL itself: `pg_notify` on publish (a plain
 * statement, so it also works through a transaction-mode pooler), LISTEN on a dedicated session to receive. An
 * instance skips its own notifications (it applied the change already). Notifications are not stored: one sent
 * while an instance was not listening is lost, hence `resync` on reconnect and the lookup TTL as the last fallback.
 */
export class TenantChangeFeed {
  /** Tells this instance's notifications apart from the others'. */
  readonly #origin = randomUUID();
  readonly #listener: PgChannelListener;
  readonly #warnings: ThrottledWarnings;
  #received = 0;
  #lastReceivedAt?: Date;

  constructor(
    private readonly orm: MikroORM,
    private readonly settings: TenantChangeFeedSettings,
    private readonly handlers: TenantChangeHandlers,
    private readonly logger: Logger,
  ) {
    this.#warnings = new ThrottledWarnings(logger);
    this.#listener = new PgChannelListener(
      orm,
      settings.channel,
      {
        message: (payload) => this.receive(payload),
        listening: () => handlers.resync(),
      },
      logger,
      settings.listen,
    );
  }

  /** Starts listening; never rejects (the listener retries in the background and logs why). */
  start(): Promise<void> {
    return this.#listener.start();
  }

  close(): Promise<void> {
    return this.#listener.close();
  }

  /**
   * Tells the other instances. A failure is logged, not thrown: the change itself is done, and the others still see
   * it when their cached lookups expire (tenancy.cacheTtlMs).
   */
  async publish(change: TenantChange): Promise<void> {
    const payload = JSON.stringify({ v: 1, context: this.settings.tenantContext, origin: this.#origin, ...change });
    try {
      await this.orm.em.getConnection().execute('select pg_notify(?, ?)', [this.settings.channel, payload]);
    } catch (error) {
      this.logger.warn(
        `Tenant '${change.tenantId}' ${change.kind}: telling the other app instances failed (${messageOf(error)}); they ` +
          `see the change when their cached lookup expires (tenancy.cacheTtlMs).`,
      );
    }
  }

  status(): Record<string, unknown> {
    return {
      channel: this.settings.channel,
      context: this.settings.context,
      listening: this.#listener.listening,
      // received its own test notification: false behind a transaction-mode pooler (see tenancy.changes.listen)
      verified: this.#listener.verified,
      received: this.#received,
      lastReceivedAt: this.#lastReceivedAt?.toISOString() ?? null,
    };
  }

  private receive(payload: string): void {
    const change = this.parse(payload);
    if (!change) return;
    this.#received++;
    this.#lastReceivedAt = new Date();
    this.handlers.change(change);
  }

  /** The change in a notification for this tenant context from another instance; anything else is ignored. */
  private parse(payload: string): TenantChange | undefined {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(payload) as Record<string, unknown>;
    } catch {
      this.#warnings.warn('malformed', `Ignored a notification on "${this.settings.channel}" that is not JSON: is another program using this channel?`);
      return undefined;
    }
    if (message.context !== this.settings.tenantContext || message.origin === this.#origin) return undefined;
    const { kind, tenantId, fenceMs } = message;
    if (message.v !== 1 || typeof kind !== 'string' || !KINDS.has(kind) || typeof tenantId !== 'string') {
      this.#warnings.warn('malformed', `Ignored a malformed tenant change on "${this.settings.channel}" (an app instance of another version?)`);
      return undefined;
    }
    return { kind: kind as TenantChangeKind, tenantId, fenceMs: typeof fenceMs === 'number' ? fenceMs : undefined };
  }
}
