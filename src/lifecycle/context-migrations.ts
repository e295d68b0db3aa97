import type { IMigrator } from '@mikro-orm/core';
import { Inject, Injectable } from '@nestjs/common';
import { MigratorMissingError } from '../errors/lifecycle.errors.js';
import { SchemaIsolation } from '../isolation/schema/schema-isolation.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { type CreateMigrationOptions, type CreatedMigration, createTenantMigration } from './create-tenant-migration.js';
import type { MigrationStatus } from './migration-report.js';
import { TenancyUsageError } from '../errors/options.errors.js';

/**
 * Migrations of the static contexts (hub, analytics...), on MikroORM's own migrator, plus generating migrations for
 * any context including the tenant one. Tenant migrations are applied with TenantLifecycle.migrate().
 */
@Injectable()
export class ContextMigrations {
  constructor(@Inject(TenancyRuntime) private readonly runtime: TenancyRuntime) {}

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
      const isolation = tenants.isolation;
      return createTenantMigration(contextName, tenancy.config, options, () => {
        if (isolation instanceof SchemaIsolation) isolation.reclaimEntityPrototypes();
      });
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
