import { MikroORM } from '@mikro-orm/core';
import { Logger } from '@nestjs/common';
import { TenancyContext } from '../scope/tenancy-context.js';
import { UnknownContextError } from '../errors/options.errors.js';
import type { StaticContexts } from '../tenants/tenant-store.js';
import { type NormalizedOptions, normalizeOptions } from '../options/options-validation.js';
import type { MikroTenancyAsyncDeclaration, MikroTenancyModuleOptions } from '../options/tenancy-options.js';
import { TenantRuntime } from './tenant-runtime.js';
import { withPgPoolGuards } from '../isolation/pg-pool-guards.js';

/**
 * Everything one MikroTenancyModule instance owns: the static ORMs, the tenant runtime and the request context.
 * Created once at boot; closed on application shutdown. Nothing here is module-global.
 */
export class TenancyRuntime implements StaticContexts {
  readonly context = new TenancyContext();
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

  /** Closes every ORM; a failing close is logged and the others still close. */
  async close(): Promise<void> {
    const closings = [...this.#orms].map(async ([name, orm]) => {
      try {
        await orm.close();
      } catch (error) {
        this.#logger.error(`Closing context '${name}' failed: ${String(error)}`);
      }
    });
    if (this.#tenants) {
      const tenants = this.#tenants;
      closings.push(
        tenants.close().catch((error: unknown) => this.#logger.error(`Closing tenant context '${tenants.contextName}' failed: ${String(error)}`)),
      );
    }
    await Promise.all(closings);
  }

  private async start(): Promise<void> {
    const mikroLogger = new Logger(MikroORM.name);
    const started = await Promise.allSettled(
      [...this.options.contexts].map(async ([name, config]) => {
        const orm = await MikroORM.init({
          ...(this.options.poolGuards ? withPgPoolGuards({ ...config, contextName: name }) : config),
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
      this.#tenants = await TenantRuntime.create(this.options.tenancy, this.#logger, () => this.context.currentTenant()?.id);
      this.#tenants.setUpChanges((name) => this.orm(name));
    }
  }
}
