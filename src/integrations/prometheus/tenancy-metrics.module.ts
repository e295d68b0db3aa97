import { type DynamicModule, Inject, Injectable, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { TenancyRuntime } from '../../runtime/tenancy-runtime.js';
import { type TenancyMetricsOptions, registerTenancyMetrics } from './tenancy-metrics.js';

const METRICS_OPTIONS = Symbol('TenancyMetricsOptions');

/** Registers the metrics on the module's tenant runtime for the application's lifetime. */
@Injectable()
export class TenancyMetrics implements OnModuleInit, OnModuleDestroy {
  #unregister?: () => void;

  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(METRICS_OPTIONS) private readonly options: TenancyMetricsOptions,
  ) {}

  onModuleInit(): void {
    const tenants = this.runtime.tenants;
    if (tenants) this.#unregister = registerTenancyMetrics(tenants, this.options);
  }

  onModuleDestroy(): void {
    this.#unregister?.();
  }
}

/**
 * Prometheus metrics of the tenant side (needs `prom-client`; import it next to MikroTenancyModule). Expose the
 * registry as you already do (e.g. a `/metrics` controller returning `registry.metrics()`).
 */
@Module({})
export class TenancyMetricsModule {
  static forRoot(options: TenancyMetricsOptions = {}): DynamicModule {
    return { module: TenancyMetricsModule, providers: [{ provide: METRICS_OPTIONS, useValue: options }, TenancyMetrics] };
  }
}
