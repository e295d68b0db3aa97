/**
 * The set-up every shared-table (`isolation: 'table'`) test with a real app role repeats:
 * - a login role that row-level security binds: row privileges on the tables the test's superuser creates (the
 *   owner, as a deploy tool would be), nothing more;
 * - the lifecycle app's options in table mode (hub: the tenant table; tenant: the given entities, migrated from a
 *   folder the test's owner generates), connected as that role or, without one, as the owner;
 * - the owner's deploy step: the hub migrations, the tenant migration generated and applied once to the shared tables.
 */
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import type { ModuleMetadata } from '@nestjs/common';
import { fileURLToPath } from 'node:url';
import { type ContextConfig, ContextMigrations, type MikroTenancyModuleOptions, type TenantSeeder, TenantLifecycle, TenantStores } from '../../../src/index.js';
import { Tenant } from '../../fixtures/entities/tenant.entity.js';
import { startApp } from '../../support/http-app.js';
import { connectionOptions, sql } from '../../support/test-databases.js';

const HUB_MIGRATIONS = fileURLToPath(new URL('../../fixtures/migrations/hub', import.meta.url));

export interface AppRole {
  user: string;
  password: string;
}

export interface SharedTablesSetup {
  db: string;
  /** Where the owner generates the tenant migration (e.g. migrationsFolder(label).path). */
  migrationsPath: string;
  /** The tenant entities (their tables are shared). */
  entities: ContextConfig['entities'];
  seed?: TenantSeeder;
}

/** The app's options: as `user` (row-level security refuses a role that bypasses it), or as the owner (warned). */
export function sharedTablesOptions(setup: SharedTablesSetup, user?: AppRole): MikroTenancyModuleOptions {
  const common = { metadataProvider: ReflectMetadataProvider, debug: false, ...connectionOptions(setup.db) } as const;
  const migrations = { path: setup.migrationsPath, snapshotName: '.snapshot-tenant', tableName: 'tenant_migrations' };
  return {
    contexts: { hub: defineConfig({ ...common, entities: [Tenant], pool: { max: 3 }, migrations: { path: HUB_MIGRATIONS, snapshot: false } }) },
    tenancy: {
      isolation: 'table',
      store: TenantStores.table(Tenant, { context: 'hub' }),
      config: defineConfig({ ...common, ...user, entities: setup.entities, pool: { max: 4 }, migrations }),
      sharedTables: { bypassingRole: user ? 'refuse' : 'warn' },
      cacheTtlMs: 0,
      ...(setup.seed ? { seed: setup.seed } : {}),
    },
  };
}

/** Creates the app role (password 'pw') with row privileges on every table and sequence the owner creates in `db` later. */
export async function createAppRole(db: string, name: string): Promise<AppRole> {
  await sql('postgres', `create role "${name}" login password 'pw'`);
  await sql(
    db,
    `grant usage on schema public to "${name}"; alter default privileges in schema public grant select, insert, update, delete on tables to "${name}"; ` +
      `alter default privileges in schema public grant usage, select on sequences to "${name}"`,
  );
  return { user: name, password: 'pw' };
}

/** Drops the app role (after its databases: a role that owns privileges in one cannot be dropped). */
export async function dropAppRole(name: string): Promise<void> {
  await sql('postgres', `drop role if exists "${name}"`).catch(() => undefined);
}

/**
 * The deploy step, as the owner, on an app of `metadata` (options without a user): applies the hub migrations,
 * generates the tenant migration and applies it to the shared tables, before any tenant exists.
 */
export async function migrateAsOwner(metadata: ModuleMetadata): Promise<void> {
  const owner = await startApp(metadata);
  try {
    await owner.app.get(ContextMigrations).up('hub');
    expect((await owner.app.get(ContextMigrations).create('tenant')).fileName).not.toBe('');
    expect((await owner.app.get(TenantLifecycle).migrate()).sharedTables?.status).toBe('migrated');
  } finally {
    await owner.close();
  }
}
