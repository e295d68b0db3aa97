import { RequestContext } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { messageOf } from '../errors/message-of.js';
import { type RawExecute, type SqlConnection, failOverToPrimary, reportWrites } from './replica-connections.js';
import { type PrimarySample, freshAsOf, parseLsn, recentSamples } from './replica-freshness.js';
import { PRIMARY_CHECK_SQL, type PrimaryRow, REPLICA_CHECK_SQL, type ReplicaRow, replicaRefusal } from './replica-probe.js';
import type { ReplicaRegistry } from './replica-registry.js';
import type { ReplicaStatus } from './replica-status.js';

/** How far a replica may lag, and how often it is checked while it serves reads (normalised `replicaLag`). */
export interface ReplicaLag {
  maxMs: number;
  checkEveryMs: number;
}

export interface ReplicaRoutingSettings {
  lag: ReplicaLag;
  /** The current unit of work (a request, a `run()`), or undefined outside one. */
  unitOfWork: () => object | undefined;
  registry: ReplicaRegistry;
  /** The context in health reports: a static context's name, or the tenant context's for every tenant ORM. */
  group: string;
  logger: Logger;
}

interface Replica {
  readonly connection: SqlConnection;
  readonly name: string;
  readonly check: RawExecute;
  /** Local time as of which it holds every commit of the primary (see replica-freshness.ts). */
  freshAsOf: number;
  checked: boolean;
  /** Whether the last check found it further behind than maxMs (for logging changes only). */
  lagging: boolean;
  down?: string;
  refused?: string;
}

/**
 * The read-replica routing of one ORM (one context, or one tenant database): which connection a read uses, the units of
 * work pinned to the primary, and the replica checks. Checks run while reads are asked for (at most one at a time, one
 * per `checkEveryMs`), never on a timer: an idle ORM costs nothing, and a replica whose checks stop succeeding ages
 * out of use by itself once its freshness bound passes maxMs.
 */
export class ReplicaRouter {
  readonly #replicas: Replica[];
  readonly #pinned = new WeakSet<object>();
  readonly #checkPrimary: RawExecute;
  #samples: PrimarySample[] = [];
  #next = 0;
  #lastCheckAt = -Infinity;
  #checking?: Promise<void>;
  #closed = false;
  /** Whether the last check could not reach the primary (logged when that changes, not at every check). */
  #primaryUnreachable = false;

  constructor(
    private readonly primary: SqlConnection,
    replicas: readonly SqlConnection[],
    names: readonly string[],
    /** The ORM's context name, for messages (`tenant:acme` for a tenant database). */
    readonly label: string,
    private readonly settings: ReplicaRoutingSettings,
  ) {
    this.#checkPrimary = reportWrites(primary, () => this.pin());
    this.#replicas = replicas.map((connection, index) => {
      const name = names[index] ?? `replica ${index + 1}`;
      const check = failOverToPrimary(connection, primary, (reason) => this.markDown(this.#replicas[index] as Replica, reason));
      return { connection, name, check, freshAsOf: -Infinity, checked: false, lagging: false };
    });
  }

  get group(): string {
    return this.settings.group;
  }

  /** The connection a read uses: the primary outside a unit of work and once it is pinned, else a fresh replica. */
  readConnection(): SqlConnection {
    const unitOfWork = this.currentUnitOfWork();
    if (unitOfWork === undefined || this.#pinned.has(unitOfWork)) return this.primary;
    this.checkWhenDue();
    const now = performance.now();
    for (let tried = 0; tried < this.#replicas.length; tried++) {
      const replica = this.#replicas[this.#next++ % this.#replicas.length] as Replica;
      if (this.serves(replica, now)) return replica.connection;
    }
    return this.primary;
  }

  /** Sends the current unit of work's later reads to the primary (after a write, or on demand). */
  pin(): void {
    const unitOfWork = this.currentUnitOfWork();
    if (unitOfWork !== undefined) this.#pinned.add(unitOfWork);
  }

  /** Whether the current unit of work reads from the primary (outside one, every read does). */
  isPinned(): boolean {
    const unitOfWork = this.currentUnitOfWork();
    return unitOfWork === undefined || this.#pinned.has(unitOfWork);
  }

  status(): ReplicaStatus[] {
    const now = performance.now();
    return this.#replicas.map((replica) => {
      const lagMs = Number.isFinite(replica.freshAsOf) ? Math.round(now - replica.freshAsOf) : undefined;
      const base = { name: replica.name, ...(lagMs === undefined ? {} : { lagMs }) };
      if (replica.refused) return { ...base, state: 'refused', reason: replica.refused };
      if (replica.down) return { ...base, state: 'down', reason: replica.down };
      if (!replica.checked) return { ...base, state: 'unchecked' };
      return { ...base, state: this.serves(replica, now) ? 'up' : 'lagging' };
    });
  }

  /** Checks every replica now (or waits for the check under way), then reports. */
  async check(): Promise<ReplicaStatus[]> {
    await (this.#checking ?? this.startCheck());
    return this.status();
  }

  /** The ORM closed (or reconnects): no more checks, and out of health reports until it is used again. */
  close(): void {
    this.#closed = true;
    this.settings.registry.delete(this);
  }

  /** The ORM connected again (MikroORM's reconnect()). */
  reopen(): void {
    this.#closed = false;
  }

  private serves(replica: Replica, now: number): boolean {
    return replica.checked && !replica.down && !replica.refused && now - replica.freshAsOf <= this.settings.lag.maxMs;
  }

  /** The request scope, else a MikroORM RequestContext (`@CreateRequestContext`, `RequestContext.create`). */
  private currentUnitOfWork(): object | undefined {
    return this.settings.unitOfWork() ?? RequestContext.currentRequestContext();
  }

  private checkWhenDue(): void {
    if (this.#checking || this.#closed || performance.now() - this.#lastCheckAt < this.settings.lag.checkEveryMs) return;
    void this.startCheck();
  }

  private startCheck(): Promise<void> {
    if (!this.#closed) this.settings.registry.add(this);
    this.#lastCheckAt = performance.now();
    const checking = this.checkAll()
      .catch((error: unknown) => this.settings.logger.error(`Context '${this.label}': checking its read replicas failed: ${messageOf(error)}`))
      .finally(() => (this.#checking = undefined));
    this.#checking = checking;
    return checking;
  }

  private async checkAll(): Promise<void> {
    const sampledAt = performance.now();
    let primary: PrimaryRow | undefined;
    try {
      primary = (await this.#checkPrimary(PRIMARY_CHECK_SQL, [], 'get')) as PrimaryRow;
      this.#samples = recentSamples([...this.#samples, { lsn: parseLsn(primary.lsn), at: sampledAt }], sampledAt, this.settings.lag.maxMs + 2 * this.settings.lag.checkEveryMs);
      if (this.#primaryUnreachable) this.settings.logger.log(`Context '${this.label}': the primary answers the read replica checks again.`);
      this.#primaryUnreachable = false;
    } catch (error) {
      // without the primary nothing can be compared: replicas keep serving until their freshness bound passes maxMs
      if (!this.#primaryUnreachable) {
        this.settings.logger.warn(`Context '${this.label}': the primary did not answer the read replica check (${messageOf(error)}); replicas serve until they may lag more than ${this.settings.lag.maxMs} ms.`);
      }
      this.#primaryUnreachable = true;
    }
    await Promise.all(this.#replicas.map((replica) => this.checkReplica(replica, primary)));
  }

  private async checkReplica(replica: Replica, primary: PrimaryRow | undefined): Promise<void> {
    let row: ReplicaRow;
    try {
      row = (await replica.check(REPLICA_CHECK_SQL, [], 'get')) as ReplicaRow;
    } catch (error) {
      return this.markDown(replica, messageOf(error));
    }
    if (this.#closed) return;
    if (primary === undefined) {
      // reachable, but nothing to compare with: a replica checked before stays usable while its bound holds
      if (replica.checked) this.markReachable(replica);
      return;
    }
    const refusal = replicaRefusal(row, primary);
    if (refusal !== undefined) {
      if (replica.refused !== refusal) this.settings.logger.error(`Context '${this.label}': read replica '${replica.name}' is not used: ${refusal}.`);
      replica.refused = refusal;
      return;
    }
    const fresh = row.recovery && row.replayed !== null ? freshAsOf(this.#samples, parseLsn(row.replayed)) : this.#samples.at(-1)?.at;
    if (fresh !== undefined) replica.freshAsOf = Math.max(replica.freshAsOf, fresh);
    replica.checked = true;
    this.markReachable(replica);
    const lagging = performance.now() - replica.freshAsOf > this.settings.lag.maxMs;
    if (lagging && !replica.lagging) {
      this.settings.logger.warn(`Context '${this.label}': read replica '${replica.name}' lags more than ${this.settings.lag.maxMs} ms behind the primary; its reads go to the primary until it catches up.`);
    } else if (!lagging && replica.lagging) {
      this.settings.logger.log(`Context '${this.label}': read replica '${replica.name}' has caught up and serves reads again.`);
    }
    replica.lagging = lagging;
  }

  private markReachable(replica: Replica): void {
    if (replica.down !== undefined || replica.refused !== undefined) {
      this.settings.logger.log(`Context '${this.label}': read replica '${replica.name}' answers again and serves reads.`);
    }
    replica.down = undefined;
    replica.refused = undefined;
  }

  private markDown(replica: Replica, reason: string): void {
    if (this.#closed) return;
    if (replica.down === undefined) {
      this.settings.logger.warn(`Context '${this.label}': read replica '${replica.name}' is unavailable (${reason}); its reads go to the primary until a check finds it back.`);
    }
    replica.down = reason;
  }
}
