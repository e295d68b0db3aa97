import { type DynamicModule, Inject, Injectable, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { TenancyRuntime } from '../../runtime/tenancy-runtime.js';
import { tracingObserver } from './tracing-observer.js';

export interface TenancyTracingOptions {
  /** Name of the tracer the lifecycle spans come from. Default `nestjs-mikro-tenancy`. */
  tracerName?: string;
}

const TRACING_OPTIONS = Symbol('TenancyTracingOptions');

/** Registers the tracing observer on the module's tenant runtime for the application's lifetime. */
@Injectable()
export class TenancyTracing implements OnModuleInit, OnModuleDestroy {
  #remove?: () => void;

  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(TRACING_OPTIONS) private readonly options: TenancyTracingOptions,
  ) {}

  onModuleInit(): void {
    // the global tracer provider may be registered after boot: getTracer returns a proxy that follows it
    const tracer = trace.getTracer(this.options.tracerName ?? 'nestjs-mikro-tenancy');
    this.#remove = this.runtime.tenants?.observers.add(tracingObserver(tracer));
  }

  onModuleDestroy(): void {
    this.#remove?.();
  }
}

/**
 * OpenTelemetry for tenant work (needs `@opentelemetry/api`; import it next to MikroTenancyModule). Without it
 * imported, the library never loads `@opentelemetry/api`. Spans are exported by whatever SDK the app sets up.
 */
@Module({})
export class TenancyTracingModule {
  static forRoot(options: TenancyTracingOptions = {}): DynamicModule {
    return { module: TenancyTracingModule, providers: [{ provide: TRACING_OPTIONS, useValue: options }, TenancyTracing] };
  }
}
