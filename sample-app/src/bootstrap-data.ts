import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { ContextMigrations, TenantLifecycle } from '../../src/index.js';
import type { Tenant } from './entities/tenant.entity.js';

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
