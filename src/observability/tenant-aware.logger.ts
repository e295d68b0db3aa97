import { ConsoleLogger, type ConsoleLoggerOptions, type LogLevel } from '@nestjs/common';
import type { TenantRecord } from '../tenants/tenant-store.js';

/** Where the logger finds the current tenant: TenancyService (or anything with `currentOrUndefined()`). */
export interface CurrentTenantSource {
  currentOrUndefined(): TenantRecord | undefined;
}

/**
 * Nest's ConsoleLogger, with the current tenant on every line written inside a tenant's unit of work (an HTTP
 * request, `TenancyService.run`, a job): `[tenant acme]` after the context, or `"tenant": "acme"` in JSON mode.
 * Nothing to thread through your code: every `new Logger(...)` of the app writes through it once it is the app's
 * logger. The id shown is the validated id of the tenant in use, never raw request input.
 *
 * ```ts
 * const app = await NestFactory.create(AppModule, { bufferLogs: true });
 * app.useLogger(new TenantAwareLogger(app.get(TenancyService)));
 * ```
 */
export class TenantAwareLogger extends ConsoleLogger {
  constructor(
    private readonly tenants: CurrentTenantSource,
    options: ConsoleLoggerOptions = {},
  ) {
    super(options);
  }

  protected override formatContext(context: string): string {
    const tenant = this.tenants.currentOrUndefined()?.id;
    const formatted = super.formatContext(context);
    return tenant === undefined ? formatted : `${formatted}[tenant ${tenant}] `;
  }

  protected override getJsonLogObject(
    message: unknown,
    options: { context: string; logLevel: LogLevel; writeStreamType?: 'stdout' | 'stderr'; errorStack?: unknown; params?: Record<string, unknown>; error?: Error },
  ): ReturnType<ConsoleLogger['getJsonLogObject']> {
    const object = super.getJsonLogObject(message, options);
    const tenant = this.tenants.currentOrUndefined()?.id;
    return tenant === undefined ? object : { ...object, tenant };
  }
}
