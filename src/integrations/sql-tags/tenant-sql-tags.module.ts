import { Inject, Injectable, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { TenancyRuntime } from '../../runtime/tenancy-runtime.js';

/** Turns the tags on for the application's lifetime. */
@Injectable()
export class TenantSqlTagging implements OnModuleInit, OnModuleDestroy {
  #off?: () => void;

  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  onModuleInit(): void {
    this.#off = this.runtime.sqlTags.enable();
  }

  onModuleDestroy(): void {
    this.#off?.();
  }
}

/**
 * Opt-in SQL comment tags: every query of the tenant context run inside a tenant's unit of work ends with
 * `/*tenant='acme'*\/` (sqlcommenter format), so pg_stat_activity, the server log and auto_explain name the tenant.
 * Import it next to MikroTenancyModule. Needs no extra package.
 */
@Module({ providers: [TenantSqlTagging] })
export class TenantSqlTagsModule {}
