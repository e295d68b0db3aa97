import { Global, Inject, type MiddlewareConsumer, Module, type NestModule, type OnApplicationShutdown, RequestMethod } from '@nestjs/common';
import { TenancyMiddleware } from '../http/tenancy.middleware.js';
import type { MikroTenancyAsyncDeclaration } from '../options/tenancy-options.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { ALL_ROUTES, MIKRO_TENANCY_DECLARATION } from '../options/tokens.js';

/** The internal global module behind MikroTenancyModule.forRoot/forRootAsync: owns the runtime and the middleware. */
@Global()
@Module({})
export class MikroTenancyCoreModule implements NestModule, OnApplicationShutdown {
  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(MIKRO_TENANCY_DECLARATION) private readonly declared: MikroTenancyAsyncDeclaration,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    const routes = (paths: readonly string[]) => paths.map((path) => ({ path, method: RequestMethod.ALL }));
    consumer
      .apply(TenancyMiddleware)
      .exclude(...routes(this.declared.excludeRoutes ?? []))
      .forRoutes(...routes(this.declared.forRoutes ?? ALL_ROUTES));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}
