import { Inject, Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService, MikroOrmHealthIndicator } from '@nestjs/terminus';
import { DatabaseIsolation } from '../isolation/database-isolation.js';
import { SchemaIsolation } from '../isolation/schema-isolation.js';
import { TenancyRuntime } from '../module/tenancy-runtime.js';

/**
 * @nestjs/terminus indicators for MikroTenancyModule: one per context (terminus' own MikroORM ping, pointed at the
 * context's ORM) and one for the tenant side. Add it to the providers of the module that imports TerminusModule.
 */
@Injectable()
export class TenancyHealthIndicator {
  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    private readonly health: HealthIndicatorService,
    private readonly mikroOrm: MikroOrmHealthIndicator,
  ) {}

  /** Pings a static context's database (`select 1` through its pool), down after `timeoutMs`. */
  async pingContext(contextName: string, options: { key?: string; timeoutMs?: number } = {}): Promise<HealthIndicatorResult> {
    const connection = this.runtime.orm(contextName).em.getConnection();
    return await this.mikroOrm.pingCheck(options.key ?? contextName, { connection, timeout: options.timeoutMs ?? 1000 });
  }

  /**
   * The tenant side. Schema mode: pings the shared tenant database. Database mode: reports the tenant ORM pool
   * (open, closing, opened and evicted since boot, the budget); each tenant's own database is checked by its
   * requests (an unreachable one answers 503 without affecting the others).
   */
  async tenants(options: { key?: string; timeoutMs?: number } = {}): Promise<HealthIndicatorResult> {
    const tenants = this.runtime.tenants;
    const key = options.key ?? tenants?.options.contextName ?? 'tenant';
    const check = this.health.check(key);
    if (!tenants) return check.down({ message: 'no tenant context is configured' });
    const isolation = tenants.isolation;
    if (isolation instanceof SchemaIsolation) {
      const result = await this.mikroOrm.pingCheck(key, { connection: isolation.orm.em.getConnection(), timeout: options.timeoutMs ?? 1000 });
      return { [key]: { ...result[key], status: result[key]?.status ?? 'down', isolation: 'schema' } };
    }
    const stats = (isolation as DatabaseIsolation).pool.stats();
    return check.up({ isolation: 'database', ...stats });
  }
}
