import type { IMigrator } from '@mikro-orm/core';
import { databaseNameOf } from '../options/database-name.js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { createDatabaseIfMissing } from '../isolation/management-database.js';
import { isPostgreSqlDriver } from '../isolation/pg-pool-guards.js';
import type { ContextConfig } from '../options/tenancy-options.js';
import { MigratorMissingError } from '../errors/lifecycle.errors.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { type CreateMigrationOptions, type CreatedMigration, createTenantMigration } from './create-tenant-migration.js';
import type { MigrationStatus } from './migration-report.js';
import { TenancyUsageError } from '../errors/options.errors.js';

/**
 * Migrations of the static contexts (hub, analytics...), on MikroORM's own migrator, plus generating migrations for
 * any context including the tenant one. Tenant migrations are applied with TenantLifecycle.migrate().
 */
/** What `createDatabases` did for one context. */
export interface ContextDatabase {
  context: string;
  database: string | null;
  created: boolean;
  /** Why nothing was checked (e.g. a SQLite context). */
  skipped?: string;
}

@Injectable()
export class ContextMigrations {
  readonly #logger = new Logger('ContextMigrations');

  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

  /**
   * Creates the PostgreSQL databases the app needs before anything else can run: each static context's and, in
   * schema and table mode, the one holding the tenant schemas or shared tables (tenant databases are created by TenantLifecycle.create).
   * Databases that exist are left alone. CLI: `mikro-tenancy db create`.
   */
  async createDatabases(): Promise<ContextDatabase[]> {
    const wanted: [string, ContextConfig][] = [...this.runtime.options.contexts];
    const tenancy = this.runtime.options.tenancy;
    if (tenancy && tenancy.isolation !== 'database') wanted.push([tenancy.contextName, tenancy.config]);
    const results: ContextDatabase[] = [];
    for (const [context, config] of wanted) {
      const database = databaseNameOf(config);
      if (!isPostgreSqlDriver(config.driver) || !database) {
        results.push({ context, database: database ?? null, created: false, skipped: 'not a PostgreSQL context' });
        continue;
      }
      const created = await createDatabaseIfMissing({ ...config, contextName: context }, database, this.#logger, `the server of context '${context}'`);
      if (created) this.#logger.log(`Created database "${database}" of context '${context}'`);
      results.push({ context, database, created });
    }
    return results;
  }

  /** Applies the context's pending migrations (up to `to`); returns their names. */
  async up(contextName: string, options: { to?: string } = {}): Promise<string[]> {
    const ran = await this.migrator(contextName).up(options.to ? { to: options.to } : undefined);
    return ran.map((m) => m.name);
  }

  /** Reverts the last migration (or down to `to`; 0 reverts all); returns their names. */
  async down(contextName: string, options: { to?: string | number } = {}): Promise<string[]> {
    const ran = await this.migrator(contextName).down(options.to !== undefined ? { to: options.to } : undefined);
    return ran.map((m) => m.name);
  }

  async status(contextName: string): Promise<MigrationStatus> {
    const migrator = this.migrator(contextName);
    const executed = await migrator.getExecuted();
    const pending = await migrator.getPending();
    return { executed: executed.map((m) => m.name), pending: pending.map((m) => m.name) };
  }

  /**
   * Generates the next migration of a context from its entities. For the tenant context the diff is taken against
   * its snapshot only (see createTenantMigration), so the migration applies to every tenant.
   */
  async create(contextName: string, options: CreateMigrationOptions = {}): Promise<CreatedMigration> {
    const tenancy = this.runtime.tenants?.options;
    const tenants = this.runtime.tenants;
    if (tenancy && tenants && tenancy.contextName === contextName) {
      // the generator reads plain (not wildcard) metadata: the diff is against the unqualified snapshot
      const config = tenants.isolation.migrations.generatorConfig?.() ?? tenancy.config;
      return createTenantMigration(contextName, config, options, () => tenants.isolation.reclaimEntityPrototypes());
    }
    const result = await this.migrator(contextName).create(undefined, options.blank ?? false, false, options.name);
    return { fileName: result.fileName, code: result.code };
  }

  /** Static context names, in registration order. */
  get contextNames(): string[] {
    return this.runtime.contextNames;
  }

  private migrator(contextName: string): IMigrator {
    const tenancy = this.runtime.tenants?.options;
    if (tenancy && tenancy.contextName === contextName) {
      throw new TenancyUsageError(`'${contextName}' is the tenant context: apply its migrations with TenantLifecycle.migrate() (CLI: migrate up --context ${contextName}).`);
    }
    const orm = this.runtime.orm(contextName);
    try {
      return orm.migrator;
    } catch (error) {
      throw new MigratorMissingError(contextName, error);
    }
  }
}
