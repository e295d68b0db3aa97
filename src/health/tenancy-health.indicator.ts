import type { MikroORM } from '@mikro-orm/core';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { setTimeout as sleep } from 'node:timers/promises';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { messageOf } from '../errors/message-of.js';
import { Outbox } from '../outbox/outbox.service.js';
import type { OutboxHealthOptions } from '../outbox/outbox-health.js';
import { replicaRouterOf } from '../replicas/replica-driver.js';
import type { TenantHealth } from '../isolation/tenant-isolation.js';

export interface PingOptions {
  /** Key of the result in the health report. Default: the context name. */
  key?: string;
  /** Down when the database has not answered within this long. Default 1000 ms. */
  timeoutMs?: number;
}

/**
 * @nestjs/terminus indicators for MikroTenancyModule: one per context and one for the tenant side. Add it to the
 * providers of the module that imports TerminusModule.
 */
@Injectable()
export class TenancyHealthIndicator {
  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    private readonly health: HealthIndicatorService,
    // the outbox's part (outbox()): present when the app imports OutboxModule
    @Optional() @Inject(Outbox) private readonly outboxService?: Outbox,
  ) {}

  /**
   * The outbox (OutboxModule): pending and dead messages, the oldest pending one's age, sources that failed, what the
   * relay did since boot. Up unless a limit in `options` is exceeded: with none (the default) dead messages are shown
   * but never fail the check, so one bad message cannot take every instance out of a load balancer.
   */
  async outbox(options: OutboxHealthOptions & { key?: string } = {}): Promise<HealthIndicatorResult> {
    const check = this.health.check(options.key ?? 'outbox');
    if (!this.outboxService) return check.down({ message: 'OutboxModule is not imported: add OutboxModule.forRoot() next to MikroTenancyModule' });
    const { healthy, problems, details } = await this.outboxService.health(options);
    return healthy ? check.up({ ...details }) : check.down({ ...details, message: problems.join('; ') });
  }

  /**
   * Runs `select 1` on a static context's database (connecting first if no request has yet). With read replicas, also
   * checks them and lists each (`up`, `lagging`, `down`, `refused`, with `lagMs`); their state never makes the context
   * down, since the primary serves whatever they cannot.
   */
  async pingContext(contextName: string, options: PingOptions = {}): Promise<HealthIndicatorResult> {
    const orm = this.runtime.orm(contextName);
    return this.ping(options.key ?? contextName, orm, options.timeoutMs, await this.replicaDetails(orm, options.timeoutMs));
  }

  /**
   * The tenant side. Schema mode: pings the shared tenant database. Database mode: reports the tenant ORM pool
   * (open, closing, opened and evicted since boot, the budget); each tenant's own database is checked by its
   * requests (an unreachable one answers 503 without affecting the others).
   */
  async tenants(options: PingOptions = {}): Promise<HealthIndicatorResult> {
    const tenants = this.runtime.tenants;
    const key = options.key ?? tenants?.contextName ?? 'tenant';
    if (!tenants) return this.health.check(key).down({ message: 'no tenant context is configured' });
    const health = tenants.isolation.health();
    if (health.servers) return this.servers(key, health.servers, health.details, tenants.changesStatus(), options.timeoutMs);
    const { ping, details: isolation } = health;
    const changes = tenants.changesStatus();
    // a lost listener is not an outage (lookups still expire after cacheTtlMs): shown, never "down"
    const withChanges = changes ? { ...isolation, changes } : isolation;
    // read replicas: schema mode checks the tenant ORM's; database mode lists those of the tenant databases reading from them
    const replicas = this.runtime.replicas.report(tenants.contextName);
    const details = { ...withChanges, ...(ping ? await this.replicaDetails(ping, options.timeoutMs) : Object.keys(replicas).length ? { replicas } : {}) };
    return ping ? this.ping(key, ping, options.timeoutMs, details) : this.health.check(key).up(details);
  }

  /**
   * Several servers: each server pinged (schema mode: `up`/`down`) or reported with its pool figures (database mode:
   * `not pinged`) under `servers`. Down only when every server is: a server that is down fails only its own tenants'
   * requests, so the instance still serves.
   */
  private async servers(key: string, servers: Record<string, TenantHealth>, totals: Record<string, unknown>, changes: Record<string, unknown> | undefined, timeoutMs = 1000): Promise<HealthIndicatorResult> {
    const report: Record<string, Record<string, unknown>> = {};
    await Promise.all(
      Object.entries(servers).map(async ([name, server]) => {
        // database isolation: no one database to ping on a server (each tenant's database is checked by its requests)
        if (!server.ping) return void (report[name] = { status: 'not pinged', ...server.details });
        const started = performance.now();
        const answer = await this.answerWithin(server.ping, timeoutMs);
        report[name] = answer === true ? { status: 'up', ...server.details, responseTime: Math.round(performance.now() - started) } : { status: 'down', ...server.details, message: answer };
      }),
    );
    const details = { ...totals, ...(changes ? { changes } : {}), servers: report };
    const down = Object.entries(report).filter(([, server]) => server.status === 'down');
    const check = this.health.check(key);
    if (down.length === 0 || down.length < Object.keys(report).length) return check.up(details);
    return check.down({ ...details, message: `every tenant server is down (${down.map(([name]) => name).join(', ')})` });
  }

  /** True, or why not (also when the server has not answered within `timeoutMs`). */
  private async answerWithin(orm: MikroORM, timeoutMs: number): Promise<true | string> {
    const abort = new AbortController();
    const timeout = sleep(timeoutMs, `no answer within ${timeoutMs} ms`, { signal: abort.signal }).catch(() => 'cancelled');
    try {
      return await Promise.race([this.answer(orm), timeout]);
    } finally {
      abort.abort();
    }
  }

  private async ping(key: string, orm: MikroORM, timeoutMs = 1000, details: Record<string, unknown>): Promise<HealthIndicatorResult> {
    const check = this.health.check(key);
    const started = performance.now();
    const abort = new AbortController();
    const timeout = sleep(timeoutMs, 'timeout' as const, { signal: abort.signal }).catch(() => 'cancelled' as const);
    try {
      const answer = await Promise.race([this.answer(orm), timeout]);
      if (answer === 'timeout') return check.down({ ...details, message: `no answer within ${timeoutMs} ms` });
      if (answer !== true) return check.down({ ...details, message: answer });
      return check.up({ ...details, responseTime: Math.round(performance.now() - started) });
    } finally {
      abort.abort();
    }
  }

  /** `{ replicas: [...] }` after a fresh check (bounded by the ping timeout), or nothing for an ORM without replicas. */
  private async replicaDetails(orm: MikroORM, timeoutMs = 1000): Promise<Record<string, unknown>> {
    const router = replicaRouterOf(orm.em.getDriver());
    if (!router) return {};
    const abort = new AbortController();
    const timeout = sleep(timeoutMs, undefined, { signal: abort.signal }).catch(() => undefined);
    try {
      return { replicas: (await Promise.race([router.check(), timeout])) ?? router.status() };
    } finally {
      abort.abort();
    }
  }

  /** True, or why not. MikroORM connects lazily, so a context no request has used yet is connected here first. */
  private async answer(orm: MikroORM): Promise<true | string> {
    try {
      const connection = orm.em.getConnection();
      await connection.ensureConnection();
      const result = await connection.checkConnection();
      return result.ok ? true : result.reason;
    } catch (error) {
      return messageOf(error);
    }
  }
}
