import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { ContextMigrations, TenantLifecycle } from '../../src/index.js';
import type { Tenant } from './entities/tenant.entity.js';
import { SHARED_TABLES_ROLE, tenantIsolation } from './config.js';

export const DEMO_TENANTS = [
  { id: 'acme', name: 'Acme Corp' },
  { id: 'globex', name: 'Globex' },
];

const DATABASES = ['sample_hub', 'sample_analytics'];

/** Creates the sample's databases when missing (before the app boots: its contexts connect to them). */
export async function ensureDatabases(serverUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    for (const name of DATABASES) {
      const found = await client.query('select 1 from pg_database where datname = $1', [name]);
      if (!found.rowCount) await client.query(`create database "${name}"`);
    }
  } finally {
    await client.end();
  }
  if (tenantIsolation() === 'table') await ensureSharedTablesRole(serverUrl);
}

/**
 * Shared tables: the role the app serves tenants as (see SHARED_TABLES_ROLE), with row privileges on the tables the
 * owner (the server URL's user) creates in the hub database, and nothing more: row-level security binds it.
 */
async function ensureSharedTablesRole(serverUrl: string): Promise<void> {
  const url = new URL(serverUrl);
  url.pathname = '/sample_hub';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { user, password } = SHARED_TABLES_ROLE;
    const found = await client.query('select 1 from pg_roles where rolname = $1', [user]);
    if (!found.rowCount) await client.query(`create role "${user}" login password '${password}'`);
    await client.query(
      `grant usage on schema public to "${user}"; ` +
        `grant select, insert, update, delete on all tables in schema public to "${user}"; ` +
        `grant usage, select on all sequences in schema public to "${user}"; ` +
        `alter default privileges in schema public grant select, insert, update, delete on tables to "${user}"; ` +
        `alter default privileges in schema public grant usage, select on sequences to "${user}"`,
    );
  } finally {
    await client.end();
  }
}

/** Migrates the hub and analytics databases, creates the demo tenants and migrates every tenant (all idempotent). */
export async function prepareSampleData(app: INestApplicationContext): Promise<void> {
  const migrations = app.get(ContextMigrations);
  for (const context of migrations.contextNames) await migrations.up(context);
  const lifecycle = app.get<TenantLifecycle<Tenant>>(TenantLifecycle);
  for (const { id, name } of DEMO_TENANTS) await lifecycle.create(id, { name });
  const report = await lifecycle.migrate({ concurrency: 4 });
  if (!report.ok) throw new Error(`Migrating the tenants failed: ${report.tenants.filter((t) => t.error).map((t) => `${t.tenantId}: ${t.error}`).join('; ')}`);
}
