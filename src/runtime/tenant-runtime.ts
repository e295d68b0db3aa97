import type { Logger } from '@nestjs/common';
import type { ActiveTenant } from '../scope/active-tenant.js';
import type { TenantIsolationStrategy } from '../isolation/tenant-isolation.js';
import { TenantResolverChain } from '../resolution/tenant-resolver-chain.js';
import { TenantDirectory } from '../tenants/tenant-directory.js';
import { ThrottledWarnings } from '../isolation/throttled-warnings.js';
import { printableTenantId } from '../tenants/tenant-id-rules.js';
import type { TenantRecord, TenantStore } from '../tenants/tenant-store.js';
import type { NormalizedTenancy } from '../options/options-validation.js';
import { type TenantChange, TenantChangeFeed } from '../fleet/tenant-change-feed.js';
import { TenantFences } from './tenant-fences.js';
import { entityManagerPrototypeOf, openTenantIsolation } from './open-isolation.js';
import type { MikroORM } from '@mikro-orm/core';
import { InvalidTenancyOptionsError } from '../errors/options.errors.js';
import { TenantMovingError } from '../errors/tenant.errors.js';
import { isPostgreSqlDriver } from '../isolation/pg-pool-guards.js';
import { messageOf } from '../errors/message-of.js';
import { TenancyObservers } from '../observability/tenancy-observers.js';

/** How long a request of a tenant in the last step of a move waits for it before a 503 (the step takes well under that). */
const MOVE_WAIT_MS = 10_000;
/** How long a drop announced by another instance fences its tenant here when no end of it is heard. */
const DEFAULT_REMOTE_FENCE_MS = 120_000;

/** The tenant side of one module instance: resolution, lookup, and the isolation strategy. */
export class TenantRuntime<T extends TenantRecord = TenantRecord> {
  readonly chain: TenantResolverChain;
  readonly directory: TenantDirectory<T>;
  /** Tenants being dropped, and the work in flight per tenant. */
  readonly fences = new TenantFences();
  /** Tracing and metrics integrations listening to units of tenant work and lifecycle operations. */
  readonly observers = new TenancyObservers();
  /** How changes reach the other app instances; undefined when they are not shared (see tenancy.changes). */
  #changes?: TenantChangeFeed;
  /** Whether this process has begun listening for other instances' changes (on its first unit of tenant work). */
  #listening = false;

  private constructor(
    readonly options: NormalizedTenancy<T>,
    readonly isolation: TenantIsolationStrategy<T>,
    /** Prototype of the driver's EntityManager, so injected proxies pass `instanceof` checks. */
    readonly entityManagerPrototype: object,
    private readonly logger: Logger,
  ) {
    this.chain = new TenantResolverChain(options.resolvers);
    // one throttled warning for the whole store: during a hub outage every request of a cached tenant is served stale
    const staleWarnings = new ThrottledWarnings(logger);
    this.directory = new TenantDirectory(options.store, options.ids, {
      ttlMs: options.cacheTtlMs,
      staleIfErrorMs: options.staleIfErrorMs,
      warn: (message) => staleWarnings.warn('stale-tenant-lookups', `Tenant context '${options.contextName}': ${message}`),
    });
  }

  /** The tenant context's name (`@InjectEntityManager(name)`). */
  get contextName(): string {
    return this.options.contextName;
  }

  get store(): TenantStore<T> {
    return this.options.store;
  }

  /** Throws InvalidTenantIdError (400) naming the broken rule. */
  validateId(id: string): void {
    this.directory.ids.validate(id);
  }

  /** Whether an id passes the id rules (ids read from the store are checked like request ids). */
  isValidId(id: string): boolean {
    return this.directory.ids.problemOf(id) === undefined;
  }

  /** An id for a log line: as is when valid, escaped otherwise (never raw). */
  printableId(id: unknown): string {
    return printableTenantId(id, this.directory.ids);
  }

  static async create<T extends TenantRecord>(options: NormalizedTenancy<T>, logger: Logger, currentTenantId: () => string | undefined): Promise<TenantRuntime<T>> {
    const isolation = await openTenantIsolation(options, logger, currentTenantId);
    return new TenantRuntime(options, isolation, entityManagerPrototypeOf(isolation, options), logger);
  }

  /**
   * Validates, looks up (cached) and opens the tenant: 400, 404, 403 or 503 when it cannot (503 too while it is
   * being dropped). The unit of work is counted until released, so a drop can wait for it.
   */
  enter(tenantId: string): Promise<ActiveTenant<T>> {
    return this.observers.entering(() => this.enterObserved(tenantId));
  }

  private async enterObserved(tenantId: string): Promise<ActiveTenant<T>> {
    if (!this.#listening) this.listenForChanges();
    // a move's last step: hold the work until the tenant serves from its (new) server, then look it up again
    if (this.fences.isMoving(tenantId) && !(await this.fences.awaitMove(tenantId, MOVE_WAIT_MS))) throw new TenantMovingError(tenantId);
    const record = await this.directory.get(tenantId);
    this.fences.refuseIfFenced(tenantId);
    const active = await this.isolation.acquire(record);
    const leave = this.fences.enter(tenantId);
    active.onReleased(leave);
    // fenced while it was being opened: counted work is what a drop waits for, so this one must not start
    if (this.fences.isFenced(tenantId)) {
      active.release();
      this.fences.refuseIfFenced(tenantId); // a drop: 503
      return this.enterObserved(tenantId); // a move's last step: wait for it like new work, then open it again
    }
    active.onReleased(this.observers.started(tenantId, leave)); // observers see only work that starts
    return active;
  }

  /**
   * `enter` without a promise, for the common case: the tenant's lookup is cached, it is active and not fenced, and
   * its isolation opens it at once (schema mode: its schema already checked; database mode: its ORM open). Undefined
   * when any of that does not hold: then call `enter`, which answers every other case (and its errors).
   */
  enterCached(tenantId: string): ActiveTenant<T> | undefined {
    if (!this.#listening) return undefined;
    const record = this.directory.cached(tenantId);
    if (!record || this.fences.isFenced(tenantId)) return undefined;
    const active = this.isolation.acquireNow(record);
    active?.onReleased(this.observers.started(tenantId, this.fences.enter(tenantId)));
    return active;
  }

  /**
   * Sets up sharing tenant changes with the other app instances (see tenancy.changes), when configured. Publishing
   * works at once; listening starts with the first unit of tenant work (listenForChanges), so a process that never
   * serves a tenant (the CLI, a migration job) never holds a listening session.
   */
  setUpChanges(orm: (contextName: string) => MikroORM): void {
    const settings = this.options.changes;
    if (!settings) return;
    const hub = orm(settings.context);
    if (!isPostgreSqlDriver(hub.config.get('driver'))) {
      if (!settings.explicit) return; // the store's context is not PostgreSQL: nothing to carry notifications
      throw new InvalidTenancyOptionsError([`tenant context '${this.contextName}': changes.context '${settings.context}' is not a PostgreSQL context; LISTEN/NOTIFY needs PostgreSQL`]);
    }
    this.#changes = new TenantChangeFeed(
      hub,
      { channel: settings.channel, context: settings.context, tenantContext: this.contextName, listen: settings.listen },
      { change: (change) => this.apply(change), resync: () => this.directory.invalidate() },
      this.logger,
    );
  }

  /** Begins listening (once; failures are retried in the background by the listener). */
  listenForChanges(): void {
    this.#listening = true;
    void this.#changes?.start();
  }

  /** Tells the other app instances (no-op when changes are not shared); never throws for a lost notification. */
  async publish(change: TenantChange): Promise<void> {
    await this.#changes?.publish(change);
  }

  /** What the health indicator shows about change sharing. */
  changesStatus(): Record<string, unknown> | undefined {
    return this.#changes?.status();
  }

  /** A change made by another instance, applied here: forget the cached lookup; fence or unfence a drop. */
  private apply(change: TenantChange): void {
    const { tenantId, kind } = change;
    if (!this.isValidId(tenantId)) return; // never from this library; nothing of ours can be named so
    this.directory.invalidate(tenantId);
    if (kind === 'dropping') this.fences.fence(tenantId, change.fenceMs ?? DEFAULT_REMOTE_FENCE_MS);
    if (kind === 'moving') this.fences.fenceMove(tenantId, change.fenceMs ?? DEFAULT_REMOTE_FENCE_MS);
    if (kind === 'moved') this.fences.liftMove(tenantId);
    if (kind === 'dropped' || kind === 'drop-aborted') this.fences.lift(tenantId, kind === 'dropped');
    if (kind === 'dropping' || kind === 'dropped' || kind === 'moved') {
      // close what is open for it here (database mode: after its requests), so a drop finds nothing of ours and a moved
      // tenant is opened again where its record now points
      this.isolation.forgetTenant(tenantId).catch((error: unknown) => this.logger.error(`Tenant '${tenantId}': releasing it after a drop or move elsewhere failed: ${messageOf(error)}`));
    }
  }

  async close(): Promise<void> {
    await this.#changes?.close();
    await this.isolation.close();
  }
}


