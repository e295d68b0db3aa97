import { Global, Inject, type MiddlewareConsumer, Module, type NestModule, type OnApplicationShutdown, type OnModuleInit, RequestMethod } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { InvalidTenancyOptionsError } from '../errors/options.errors.js';
import { TenancyMiddleware } from '../context/tenancy.middleware.js';
import { findClassInjectionsWithoutDefault } from './default-context-check.js';
import type { MikroTenancyAsyncDeclaration } from './tenancy-options.js';
import { TenancyRuntime } from './tenancy-runtime.js';
import { DEFAULT_CONTEXT, MIKRO_TENANCY_DECLARATION } from './tokens.js';

/** The internal global module behind MikroTenancyModule.forRoot/forRootAsync: owns the runtime and the middleware. */
@Global()
@Module({})
export class MikroTenancyCoreModule implements NestModule, OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(MIKRO_TENANCY_DECLARATION) private readonly declared: MikroTenancyAsyncDeclaration,
    @Inject(ModulesContainer) private readonly modules: ModulesContainer,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    const paths = this.declared.forRoutes ?? ['{*all}'];
    consumer.apply(TenancyMiddleware).forRoutes(...paths.map((path) => ({ path, method: RequestMethod.ALL })));
  }

  async onModuleInit(): Promise<void> {
    if (this.declared.contexts.includes(DEFAULT_CONTEXT)) return;
    const problems = findClassInjectionsWithoutDefault(this.modules);
    if (!problems.length) return;
    await this.runtime.close(); // boot fails here: leave no connection behind
    throw new InvalidTenancyOptionsError(problems);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}
