import { MikroORM } from '@mikro-orm/core';
import { Logger } from '@nestjs/common';
import { TenancyContext } from '../scope/tenancy-context.js';
import { UnknownContextError } from '../errors/options.errors.js';
import type { StaticContexts } from '../tenants/tenant-store.js';
import { type NormalizedOptions, normalizeOptions } from '../options/options-validation.js';
import type { MikroTenancyAsyncDeclaration, MikroTenancyModuleOptions } from '../options/tenancy-options.js';
import { TenantRuntime } from './tenant-runtime.js';
import { isPostgreSqlDriver, withPgPoolGuards } from '../isolation/pg-pool-guards.js';
import type { ContextConfig } from '../options/tenancy-options.js';
import { withReadReplicas } from '../replicas/replica-driver.js';
import { ReplicaRegistry } from '../replicas/replica-registry.js';
import { TenantSqlTags } from '../observability/tenant-sql-tags.js';

/**
 * Everything one MikroTenancyModule instance owns: the static ORMs, the tenant runtime and the request context.
 * Created once at boot; closed on application shutdown. Nothing here is module-global.
 */
export class TenancyRuntime implements StaticContexts {
  readonly context = new TenancyContext();
  /** Read replicas of every context, for the health indicator (docs/replicas.md). */
  readonly replicas = new ReplicaRegistry();
  /** Optional `/*tenant='acme'*\/` comments on tenant queries (TenantSqlTagsModule turns them on). */
  readonly sqlTags = new TenantSqlTags();
  readonly #orms = new Map<string, MikroORM>();
  #tenants?: TenantRuntime;
  readonly #logger = new Logger('MikroTenancyModule');

  private constructor(readonly options: NormalizedOptions) {}

  static async create(raw: MikroTenancyModuleOptions, declared: MikroTenancyAsyncDeclaration): Promise<TenancyRuntime> {
    const runtime = new TenancyRuntime(normalizeOptions(raw, declared));
    try {
      await runtime.start();
    } catch (error) {
      await runtime.close();
      throw error;
    }
    return runtime;
  }

  /** Names of the static contexts, in registration order. */
  get contextNames(): string[] {
    return [...this.options.contexts.keys()];
  }

  /** The tenant context's name, or undefined when no `tenancy` is configured. */
  get tenantContextName(): string | undefined {
    return this.#tenants?.contextName;
  }

  /** Every context name: the static ones, then the tenant context's. */
  get allContextNames(): string[] {
    const tenant = this.tenantContextName;
    return tenant === undefined ? this.contextNames : [...this.contextNames, tenant];
  }

  /** The tenant runtime, or undefined when no `tenancy` is configured. */
  get tenants(): TenantRuntime | undefined {
    return this.#tenants;
  }

  orm(contextName: string): MikroORM {
    const orm = this.#orms.get(contextName);
    if (!orm) throw new UnknownContextError(contextName, this.contextNames, 'This call');
    return orm;
  }

  /**
   * Closes every ORM; a failing close is logged and the others still close. The tenant side first: it uses the
   * static contexts (the store's, the one carrying tenant changes), which must not be reopened while they close.
   */
  async close(): Promise<void> {
    const tenants = this.#tenants;
    await tenants?.close().catch((error: unknown) => this.#logger.error(`Closing tenant context '${tenants.contextName}' failed: ${String(error)}`));
    await Promise.all(
      [...this.#orms].map(async ([name, orm]) => {
        try {
          await orm.close();
        } catch (error) {
          this.#logger.error(`Closing context '${name}' failed: ${String(error)}`);
        }
      }),
    );
  }

  private async start(): Promise<void> {
    const mikroLogger = new Logger(MikroORM.name);
    const started = await Promise.allSettled(
      [...this.options.contexts].map(async ([name, config]) => {
        const orm = await MikroORM.init({
          ...this.withReplicas(name, this.options.poolGuards ? withPgPoolGuards({ ...config, contextName: name }) : config),
          logger: config.logger ?? ((message: string) => mikroLogger.log(message)),
          contextName: name,
          context: this.context.resolverFor(name, this),
        });
        this.#orms.set(name, orm);
      }),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (this.options.tenancy) {
      await this.options.tenancy.store.attach?.(this);
      const tenancy = this.options.tenancy;
      // database mode: any tenant may bring replicas (tenancy.database()), so every tenant ORM gets the routing driver
      const currentTenantId = () => this.context.currentTenant()?.id;
      const config = this.sqlTags.install(this.withReplicas(tenancy.contextName, tenancy.config, tenancy.isolation === 'database'), currentTenantId);
      this.#tenants = await TenantRuntime.create({ ...tenancy, config }, this.#logger, currentTenantId);
      this.#tenants.setUpChanges((name) => this.orm(name));
    }
  }

  /**
   * A PostgreSQL config with read replicas gets a driver that sends a unit of work's reads to a replica that is fresh
   * enough, and to the primary once that unit of work has written (src/replicas/). Other configs are left as they are.
   */
  private withReplicas(group: string, config: ContextConfig, tenantsMayAdd = false): ContextConfig {
    if (!isPostgreSqlDriver(config.driver) || (!config.replicas?.length && !tenantsMayAdd)) return config;
    const unitOfWork = () => this.context.scope;
    return withReadReplicas(config, { lag: this.options.replicaLag, unitOfWork, registry: this.replicas, group, logger: this.#logger });
  }
}
