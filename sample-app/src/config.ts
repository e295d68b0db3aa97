import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { fileURLToPath } from 'node:url';
import type { TenantIsolation } from '../../src/index.js';
import { Event } from './entities/event.entity.js';
import { Membership } from './entities/membership.entity.js';
import { Project } from './entities/project.entity.js';
import { Task } from './entities/task.entity.js';
import { Tenant } from './entities/tenant.entity.js';
import { User } from './entities/user.entity.js';

/** Each context keeps its migrations in a folder of its own (the tenant set is applied to every tenant). */
const migrationsOf = (context: string) => fileURLToPath(new URL(`./migrations/${context}`, import.meta.url));

/** The server URL: DATABASE_URL, set by `npm start` when it starts the embedded PostgreSQL. */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: `npm start` sets it (embedded PostgreSQL); for the CLIs, export it (see .env.example).');
  return url;
}

/**
 * `TENANT_ISOLATION=database` gives each tenant a database of its own, `table` puts every tenant's rows in shared
 * tables (row-level security); the default is a schema per tenant.
 */
export function tenantIsolation(): TenantIsolation {
  const value = process.env.TENANT_ISOLATION ?? 'schema';
  if (value !== 'schema' && value !== 'database' && value !== 'table') throw new Error(`TENANT_ISOLATION must be 'schema', 'database' or 'table', got '${value}'`);
  return value;
}

/**
 * Shared tables: the app serves tenants as this role, which row-level security binds (no superuser, not the tables'
 * owner); the server URL's own user runs the migrations (`migrateAs`). bootstrap-data.ts creates the role.
 */
export const SHARED_TABLES_ROLE = { user: 'sample_app', password: 'sample_app' };

/** The server URL's credentials: the owner of everything the sample creates. */
export function ownerOf(serverUrl: string): { user: string; password?: string } {
  const url = new URL(serverUrl);
  return { user: decodeURIComponent(url.username), ...(url.password ? { password: decodeURIComponent(url.password) } : {}) };
}

/** Connection settings of each of the sample's databases on one PostgreSQL server. */
export function sampleConfigs(serverUrl: string, isolation: TenantIsolation = 'schema') {
  const on = (dbName: string, as?: { user: string; password: string }) => {
    const url = new URL(serverUrl);
    url.pathname = `/${dbName}`;
    if (as) {
      url.username = as.user;
      url.password = as.password;
    }
    return { clientUrl: url.toString(), metadataProvider: ReflectMetadataProvider, pool: { max: 5 } };
  };
  const shared = isolation === 'table';
  return {
    hub: defineConfig({ ...on('sample_hub'), entities: [Tenant, User, Membership], migrations: { path: migrationsOf('hub'), snapshot: false } }),
    analytics: defineConfig({ ...on('sample_analytics'), entities: [Event], migrations: { path: migrationsOf('analytics'), snapshot: false } }),
    // schema mode: tenant schemas live in the hub database; database mode: tenancy.database() picks the dbName;
    // table mode: shared tables in the hub database, with migrations of their own (tenant column, policies).
    // Tenant migrations are generated from the snapshot, never from a database.
    tenant: defineConfig({
      ...on('sample_hub', shared ? SHARED_TABLES_ROLE : undefined),
      entities: [Project, Task],
      migrations: shared ? { path: migrationsOf('tenant-table'), snapshotName: '.snapshot-tenant-table' } : { path: migrationsOf('tenant'), snapshotName: '.snapshot-tenant' },
    }),
  };
}
