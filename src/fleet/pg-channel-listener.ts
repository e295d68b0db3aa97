import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { messageOf } from '../errors/message-of.js';

/** The parts of node-postgres used here: a pool (MikroORM's own, for its connection options) and a client. */
interface PgListenClient {
  connect(): Promise<unknown>;
  query(sql: string, values?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
  removeAllListeners(): unknown;
}
interface PgPoolWithClient {
  readonly options: Record<string, unknown>;
  readonly Client: new (options: Record<string, unknown>) => PgListenClient;
}

/** Connection options for the listening connection, over the context's own (e.g. to bypass a pooler). */
export interface ListenConnectionOptions {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
}

export interface ChannelListenerEvents {
  /** A notification on the channel (its payload, possibly empty). */
  message(payload: string): void;
  /** The connection is listening (again): anything sent while it was away was missed. */
  listening(reconnected: boolean): void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
/** Notifications with this prefix are the listeners' own checks, never passed on. */
const PROBE_PREFIX = 'nestjs-mikro-tenancy:probe:';
const PROBE_TIMEOUT_MS = 3_000;

/**
 * One dedicated PostgreSQL session that LISTENs on a channel, reconnecting with backoff after it is lost (server
 * restart, network cut, terminated backend). It is a client of its own built from the context ORM's pool options
 * (node-postgres' `pool.Client` and `pool.options`; test/unit/pg-channel-listener.spec.ts pins them), so it takes
 * no connection from the pool that serves requests. A session is needed: LISTEN does not work through a
 * transaction-mode pooler, so `override` can point it at PostgreSQL directly.
 */
export class PgChannelListener {
  #client?: PgListenClient;
  #retryMs = RETRY_MIN_MS;
  #timer?: NodeJS.Timeout;
  #closed = false;
  #listening = false;
  #everListened = false;
  /** Whether the session received its own test notification after LISTEN (false behind a transaction-mode pooler). */
  #verified = false;
  #probe?: { payload: string; arrived: () => void };
  /** A connection attempt under way: close() waits for it, so nothing connects after the app closed. */
  #connecting?: Promise<void>;

  constructor(
    private readonly orm: MikroORM,
    private readonly channel: string,
    private readonly events: ChannelListenerEvents,
    private readonly logger: Logger,
    private readonly override: ListenConnectionOptions = {},
  ) {}

  get listening(): boolean {
    return this.#listening;
  }

  /** Listening, and shown to receive: it got its own test notification. */
  get verified(): boolean {
    return this.#listening && this.#verified;
  }

  /** Connects and listens; a failure is logged and retried in the background (boot does not wait for it). */
  async start(): Promise<void> {
    await this.attempt();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#connecting; // never rejects (connect() catches); it ends its client itself once it sees #closed
    const client = this.#client;
    this.#client = undefined;
    this.#listening = false;
    if (client) await client.end().catch((error: unknown) => this.logger.warn(`Closing the listener on "${this.channel}": ${messageOf(error)}`));
  }

  private attempt(): Promise<void> {
    const connecting = this.connect().finally(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    this.#connecting = connecting;
    return connecting;
  }

  private async connect(): Promise<void> {
    if (this.#closed) return;
    let client: PgListenClient | undefined;
    try {
      const pool = (await this.orm.em.getConnection().getNativeClient()) as PgPoolWithClient;
      // pg-pool keeps `password` as a non-enumerable property (hidden from logs): a spread would drop it
      client = new pool.Client({ ...pool.options, password: pool.options.password, ...this.override });
      client.on('error', (error) => this.lost(client as PgListenClient, error));
      client.on('end', () => this.lost(client as PgListenClient));
      client.on('notification', (message) => {
        if (message.channel !== this.channel) return;
        const payload = message.payload ?? '';
        if (!payload.startsWith(PROBE_PREFIX)) this.events.message(payload);
        else if (payload === this.#probe?.payload) this.#probe.arrived();
      });
      await client.connect();
      await client.query(`listen ${quoteChannel(this.channel)}`);
      if (this.#closed) {
        await client.end();
        return;
      }
      this.#client = client;
      this.#listening = true;
      this.#retryMs = RETRY_MIN_MS;
      const reconnected = this.#everListened;
      this.#everListened = true;
      if (reconnected) this.logger.log(`Listening on "${this.channel}" again`);
      this.events.listening(reconnected);
      void this.verify(client);
    } catch (error) {
      client?.removeAllListeners();
      await client?.end().catch(() => undefined); // the connection already failed; its end() error adds nothing
      this.retry(error);
    }
  }

  /**
   * Sends a notification to itself: behind a transaction-mode pooler LISTEN "works" but the session is not this
   * client's, so nothing arrives. Says so loudly rather than letting instances drift apart silently.
   */
  private async verify(client: PgListenClient): Promise<void> {
    const payload = `${PROBE_PREFIX}${randomUUID()}`;
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      this.#probe = { payload, arrived: () => resolve(true) };
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
      timer.unref();
    });
    try {
      await client.query('select pg_notify($1, $2)', [this.channel, payload]);
      this.#verified = await arrived;
    } catch (error) {
      this.#verified = false;
      if (this.#client === client) this.logger.warn(`Checking the listener on "${this.channel}" failed: ${messageOf(error)}`);
      return;
    } finally {
      clearTimeout(timer);
      this.#probe = undefined;
    }
    if (!this.#verified && this.#client === client) {
      this.logger.error(
        `The session listening on "${this.channel}" did not receive its own test notification within ${PROBE_TIMEOUT_MS} ms: ` +
          `it is probably behind a transaction-mode pooler (PgBouncer), where LISTEN does not work. Point it at PostgreSQL ` +
          `directly with tenancy.changes.listen (e.g. { port: 5432 }). Until then, other instances' tenant changes reach ` +
          `this one only when its cached lookups expire (tenancy.cacheTtlMs).`,
      );
    }
  }

  private lost(client: PgListenClient, error?: Error): void {
    if (this.#client !== client) return; // a client already replaced or closed
    this.#client = undefined;
    this.#listening = false;
    this.#verified = false;
    client.removeAllListeners();
    void client.end().catch(() => undefined); // already broken: ending it only frees the socket
    if (!this.#closed) this.retry(error ?? new Error('the connection ended'));
  }

  private retry(error: unknown): void {
    if (this.#closed) return;
    this.logger.warn(
      `Listening on "${this.channel}" failed (${messageOf(error)}); retrying in ${this.#retryMs} ms. Meanwhile other ` +
        `instances' tenant changes reach this one only when its tenant cache expires (tenancy.cacheTtlMs).`,
    );
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.attempt(), this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }
}

/** Channel names are validated at boot (options-validation); quoted here all the same. */
function quoteChannel(channel: string): string {
  return `"${channel.replaceAll('"', '""')}"`;
}
