/**
 * The app of test/reliability/tenant-move-shared.rel-spec.ts, for the test process and for the CLI
 * (move-shared.module.ts): schema isolation over servers x and y with a shared tier and a database tier, the
 * relational blog model, the hub on the test server. Children read the setup from MOVE_SHARED_SETUP (JSON).
 */
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { type MikroTenancyModuleOptions, TenantStores } from '../../../src/index.js';
import { PlacedTenant } from '../../fixtures/entities/placed-tenant.entity.js';
import { tenantTemplateConfig } from '../../fixtures/relational/app.js';
import { connectionOptions } from '../../support/test-databases.js';

interface ServerConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
}

export interface MoveSharedSetup {
  hubDb: string;
  tenantsDb: string;
  migrationsPath: string;
  servers: { x: ServerConnection; y: ServerConnection };
}

export const tierDatabaseOf = (setup: Pick<MoveSharedSetup, 'tenantsDb'>, tenantId: string): string => `${setup.tenantsDb}_t_${tenantId}`;

export function moveSharedOptions(setup: MoveSharedSetup, overrides: { changes?: false; cacheTtlMs: number } = { cacheTtlMs: 0 }): MikroTenancyModuleOptions {
  const { x, y } = setup.servers;
  return {
    contexts: { hub: defineConfig({ metadataProvider: ReflectMetadataProvider, ...connectionOptions(setup.hubDb), entities: [PlacedTenant], pool: { max: 3 } }) },
    tenancy: {
      isolation: 'schema',
      store: TenantStores.table(PlacedTenant, { context: 'hub' }),
      config: tenantTemplateConfig(setup.tenantsDb, setup.migrationsPath),
      servers: {
        // the target server reaches x's shared tier as a role with REPLICATION and no superuser: row-level security
        // applies to the copy (the move adds the tenant's setting, and the shared tier's database name)
        x: { ...x, dbName: setup.tenantsDb, subscriptionConnection: `host=${x.host} port=${x.port} user=mover dbname=${setup.tenantsDb}` },
        y: { ...y, dbName: setup.tenantsDb },
      },
      sharedTier: { bypassingRole: 'warn' },
      databaseTier: { dbName: (tenant: PlacedTenant) => tierDatabaseOf(setup, tenant.id) },
      ...overrides,
    },
  } as MikroTenancyModuleOptions;
}

export function moveSharedSetupFromEnv(): MoveSharedSetup {
  const json = process.env.MOVE_SHARED_SETUP;
  if (!json) throw new Error('MOVE_SHARED_SETUP is not set');
  return JSON.parse(json) as MoveSharedSetup;
}
