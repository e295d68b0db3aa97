/**
 * MikroORM's own CLI, per context of the sample app: `npx mikro-orm <command> --contextName default|analytics|tenant`
 * (default: `default`). Needs DATABASE_URL (see .env.example); the CLI does not start the embedded PostgreSQL.
 * Tenant migrations: generate them with `npx mikro-tenancy migrate create --context tenant` (or MikroORM's CLI,
 * which diffs against the committed snapshot); apply them to one schema with
 * `npx mikro-orm migration:up --contextName tenant --schema tenant_acme`, or to every tenant with
 * `npx mikro-tenancy migrate up --all-tenants`.
 */
import type { Options } from '@mikro-orm/core';
import { databaseUrl, sampleConfigs } from './sample-app/src/config.js';

const configs = sampleConfigs(databaseUrl());

const perContext: Partial<Options>[] = [
  { ...configs.hub, contextName: 'default' },
  { ...configs.analytics, contextName: 'analytics' },
  { ...configs.tenant, contextName: 'tenant', migrations: { ...configs.tenant.migrations, snapshotOnMigrate: false } },
];

export default perContext;
