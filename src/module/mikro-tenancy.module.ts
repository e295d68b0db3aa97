import type { TenantRecord } from '../tenants/tenant-store.js';
import type { EntityName } from '@mikro-orm/core';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { DatabaseUnavailableFilter, DatabaseUnavailableMapper } from '../http/database-unavailable.js';
import { TenancyService } from '../runtime/tenancy.service.js';
import { TenancyMiddleware } from '../http/tenancy.middleware.js';
import { ContextMigrations } from '../lifecycle/context-migrations.js';
import { TenantLifecycle } from '../lifecycle/tenant-lifecycle.js';
import {
  defaultClassProviders,
  driverOwnClassesOf,
  exportedTokens,
  staticContextProviders,
  tenantContextProviders,
} from './context-providers.js';
import { MikroTenancyCoreModule } from './mikro-tenancy-core.module.js';
import { declarationOf } from '../options/options-validation.js';
import { repositoryProviders } from './repository-providers.js';
import type {
  ContextConfig,
  MikroTenancyAsyncDeclaration,
  MikroTenancyModuleAsyncOptions,
  MikroTenancyModuleOptions,
  MikroTenancyOptionsFactory,
} from '../options/tenancy-options.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { DEFAULT_CONTEXT, MIKRO_TENANCY_DECLARATION, MIKRO_TENANCY_OPTIONS } from '../options/tokens.js';
import { InvalidTenancyOptionsError } from '../errors/options.errors.js';

/**
 * Registers named MikroORM contexts (and optionally a tenant context) for a Nest app. Inject them with this
 * package's decorators: `@InjectEntityManager('analytics')`, `@InjectRepository(Project, 'tenant')` (the tokens are
 * @mikro-orm/nestjs's, so its decorators work too when given a context name).
 */
@Module({})
export class MikroTenancyModule {
  /** `T`, your tenant record (inferred from the store), types the callbacks: `placement`, `schemaName`, `seed`... */
  static forRoot<T extends TenantRecord = TenantRecord>(typed: MikroTenancyModuleOptions<T>): DynamicModule {
    const options = typed as unknown as MikroTenancyModuleOptions;
    const declared = declarationOf(options);
    const driverClasses = driverOwnClassesOf(options.contexts?.[DEFAULT_CONTEXT]);
    return core(declared, [{ provide: MIKRO_TENANCY_OPTIONS, useValue: options }], [], driverClasses);
  }

  /**
   * For options that come from other providers (ConfigService...). Context names are declared up front because
   * Nest needs every token before the factory runs.
   */
  static forRootAsync(options: MikroTenancyModuleAsyncOptions): DynamicModule {
    const { imports = [], useFactory, inject = [], useClass, useExisting, ...declared } = options;
    const providers: Provider[] = [];
    if (useFactory) {
      providers.push({ provide: MIKRO_TENANCY_OPTIONS, useFactory, inject });
    } else if (useClass || useExisting) {
      const factoryClass = (useClass ?? useExisting) as NonNullable<typeof useClass>;
      if (useClass) providers.push({ provide: useClass, useClass });
      providers.push({
        provide: MIKRO_TENANCY_OPTIONS,
        useFactory: (factory: MikroTenancyOptionsFactory) => factory.createMikroTenancyOptions(),
        inject: [factoryClass],
      });
    } else {
      throw new InvalidTenancyOptionsError(['MikroTenancyModule.forRootAsync needs one of useFactory, useClass or useExisting']);
    }
    const driverClasses = declared.driver ? driverOwnClassesOf({ driver: declared.driver } as ContextConfig) : [];
    return core(declared, providers, imports, driverClasses);
  }

  /** Repositories of `entities` in one context (default: `default`), for `@InjectRepository(E, contextName)`. */
  static forFeature(entities: EntityName<object>[], contextName: string = DEFAULT_CONTEXT): DynamicModule {
    const providers = repositoryProviders(entities, contextName);
    return { module: MikroTenancyModule, providers, exports: providers.map((p) => (p as { provide: string }).provide) };
  }
}

function core(
  declared: MikroTenancyAsyncDeclaration,
  optionProviders: Provider[],
  imports: NonNullable<DynamicModule['imports']>,
  driverClasses: ReturnType<typeof driverOwnClassesOf>,
): DynamicModule {
  const hasDefault = declared.contexts.includes(DEFAULT_CONTEXT);
  // without a default context, nothing provides EntityManager/MikroORM by class: Nest names the class that asks
  const classProviders = hasDefault ? defaultClassProviders(driverClasses) : [];
  const providers: Provider[] = [
    ...optionProviders,
    { provide: MIKRO_TENANCY_DECLARATION, useValue: declared },
    {
      provide: TenancyRuntime,
      useFactory: (options: MikroTenancyModuleOptions) => TenancyRuntime.create(options, declared),
      inject: [MIKRO_TENANCY_OPTIONS],
    },
    ...declared.contexts.flatMap(staticContextProviders),
    ...classProviders,
    ...(declared.tenancy ? tenantContextProviders(declared.tenancy) : []),
    TenancyService,
    TenantLifecycle,
    ContextMigrations,
    TenancyMiddleware,
    DatabaseUnavailableMapper,
    { provide: APP_FILTER, useClass: DatabaseUnavailableFilter },
  ];
  return {
    module: MikroTenancyCoreModule,
    imports,
    providers,
    exports: [
      TenancyRuntime,
      TenancyService,
      TenantLifecycle,
      ContextMigrations,
      ...exportedTokens(declared),
      ...classProviders.map((p) => (p as { provide: unknown }).provide as string),
    ],
  };
}
