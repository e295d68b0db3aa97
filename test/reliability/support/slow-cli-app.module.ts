/**
 * cli-app.module.ts with the tenant migrations of test/fixtures/migrations/tenant-slow (the committed set, whose
 * second migration sleeps 200 ms): configured from CLI_HUB_DB, CLI_ISOLATION, CLI_DATABASE_PREFIX.
 */
import { Module } from '@nestjs/common';
import { fileURLToPath } from 'node:url';
import { MikroTenancyModule, type MikroTenancyModuleOptions, type TenantIsolation } from '../../../src/index.js';
import { lifecycleOptions } from '../../fixtures/lifecycle-app.js';

export const SLOW_TENANT_MIGRATIONS = fileURLToPath(new URL('../../fixtures/migrations/tenant-slow', import.meta.url));

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** lifecycleOptions with the slow tenant migration set. */
export function slowLifecycleOptions(hubDb: string, isolation: TenantIsolation, databasePrefix?: string): MikroTenancyModuleOptions {
  const base = lifecycleOptions({ hubDb, isolation, databasePrefix });
  const tenancy = base.tenancy!;
  return { ...base, tenancy: { ...tenancy, config: { ...tenancy.config, migrations: { ...tenancy.config.migrations, path: SLOW_TENANT_MIGRATIONS } } } };
}

@Module({
  imports: [
    MikroTenancyModule.forRootAsync({
      contexts: ['hub'],
      tenancy: {},
      useFactory: () => slowLifecycleOptions(requiredEnv('CLI_HUB_DB'), (process.env.CLI_ISOLATION ?? 'schema') as TenantIsolation, process.env.CLI_DATABASE_PREFIX),
    }),
  ],
})
export class AppModule {}
