import { HttpStatus } from '@nestjs/common';
import { messageOf } from './message-of.js';
import { TenancyError } from './tenancy.error.js';

/** `drop()` was called without `{ confirm: tenantId }`: nothing was touched. */
export class TenantDropNotConfirmedError extends TenancyError {
  constructor(readonly tenantId: string, where: string) {
    super(
      `Refusing to drop tenant '${tenantId}' without confirmation: it deletes its ${where} and every row in it. ` +
        `Pass { confirm: '${tenantId}' } (CLI: --yes).`,
      HttpStatus.BAD_REQUEST,
      'Bad Request',
    );
  }
}

/**
 * Creating, migrating or dropping a tenant failed. If it reaches an HTTP response, Nest answers a generic 500 and
 * the database's message stays in the logs.
 */
export class TenantLifecycleError extends TenancyError {
  constructor(readonly tenantId: string, message: string, cause: unknown) {
    super(message, HttpStatus.INTERNAL_SERVER_ERROR, 'Internal Server Error', { cause });
  }
}

/** One tenant's migrations failed; nothing of the failing migration was applied (see the message). */
export class TenantMigrationError extends TenancyError {
  constructor(readonly tenantId: string, message: string, cause?: unknown) {
    super(message, HttpStatus.INTERNAL_SERVER_ERROR, 'Internal Server Error', { cause });
  }
}

/** A context's migrations cannot be generated or run as configured (missing folder, missing snapshot...). */
export class MigrationSetupError extends TenancyError {}

/** The configured TenantStore has no `add`/`remove`, so tenants cannot be registered or removed at runtime. */
export class ReadOnlyTenantStoreError extends TenancyError {
  constructor(operation: 'add' | 'remove', tenantId: string) {
    super(
      `Cannot ${operation === 'add' ? 'register' : 'remove'} tenant '${tenantId}': the tenant store has no ${operation}() ` +
        `(TenantStores.static is read-only). Use TenantStores.table(Entity) or implement ${operation}() in your store.`,
    );
  }
}

/** A context's migrations were asked for, but MikroORM's migrator is not available. */
export class MigratorMissingError extends TenancyError {
  constructor(contextName: string, cause: unknown) {
    super(
      `Context '${contextName}' cannot run migrations: ${messageOf(cause)} ` +
        `Install @mikro-orm/migrations (the same version as @mikro-orm/core) or add \`extensions: [Migrator]\` to its config.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
      { cause },
    );
  }
}

/** Migrations, lifecycle or tenant APIs were used on a module configured without `tenancy`. */
export class TenancyNotConfiguredError extends TenancyError {
  constructor(usage: string) {
    super(`${usage} needs a tenant context: add { tenancy } to MikroTenancyModule.forRoot/forRootAsync.`);
  }
}

/** A new tenant would get no tables: the tenant context has no migrations to apply. */
export class NoTenantMigrationsError extends TenancyError {
  constructor(contextName: string, config: { migrations?: { path?: string; pathTs?: string } }) {
    const where = config.migrations?.path ?? config.migrations?.pathTs;
    super(
      `the tenant context '${contextName}' has no migrations${where ? ` in ${where}` : ' (tenancy.config.migrations.path is not set)'}, ` +
        `so the tenant would have no tables. Generate them with \`mikro-tenancy migrate create --context ${contextName}\` ` +
        `(or ContextMigrations.create('${contextName}')), compile them if the path is in dist/, then create the tenant.`,
    );
  }
}

/** A tenant schema that is being moved to another server or tier is not migrated until the move ends. */
export class TenantMovingMigrationError extends TenancyError {
  constructor(schema: string) {
    super(
      `schema "${schema}" is being moved (a move's publication covers it): migrations are not applied during a move, since ` +
        `the copy carries rows, not DDL. Finish the move first (run \`mikro-tenancy tenant move\` again), then migrate.`,
    );
  }
}
