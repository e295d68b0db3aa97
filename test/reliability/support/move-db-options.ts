/**
 * The app of the database-isolation move test (test/reliability/tenant-move-database.rel-spec.ts): isolation
 * 'database' on two servers (`x`, `y`, both wal_level = logical), each tenant in a database of its own
 * (`<prefix>_<id>`, tables in `public`), the hub (placed_tenant, with a server column) on the test server, and the
 * notes controller of the schema-mode move test (plus a write that waits before reaching the database).
 */
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import type { ModuleMetadata } from '@nestjs/common';
import { fileURLToPath } from 'node:url';
import { MikroTenancyModule, TenantStores } from '../../../src/index.js';
import { Note } from '../../fixtures/entities/note.entity.js';
import { PlacedTenant } from '../../fixtures/entities/placed-tenant.entity.js';
import { connectionOptions } from '../../support/test-databases.js';
import { MoveNotesController } from './move-app.controller.js';
import { MoveDbSlowNotesController } from './move-db-slow.controller.js';
import { MOVE_APP_CACHE_TTL_MS, type MoveAppServer } from './move-app-options.js';

export interface MoveDbSetup {
  /** Hub database on the test server (placed_tenant). */
  hubDb: string;
  /** Tenant databases are `<prefix>_<tenant id>` on the tenant's server. */
  prefix: string;
  servers: Record<string, MoveAppServer>;
}

const tenantMigrations = fileURLToPath(new URL('../../fixtures/migrations/tenant', import.meta.url));

export const tenantDatabaseOf = (setup: Pick<MoveDbSetup, 'prefix'>, tenant: string): string => `${setup.prefix}_${tenant}`;

export function moveDbMetadata(setup: MoveDbSetup): ModuleMetadata {
  const common = { metadataProvider: ReflectMetadataProvider, debug: false } as const;
  const first = Object.values(setup.servers)[0] as MoveAppServer;
  const tenancy = MikroTenancyModule.forRoot({
    contexts: { hub: defineConfig({ ...common, ...connectionOptions(setup.hubDb), entities: [PlacedTenant], pool: { max: 3 } }) },
    tenancy: {
      isolation: 'database',
      store: TenantStores.table(PlacedTenant, { context: 'hub' }),
      config: defineConfig({ ...common, ...first, dbName: setup.prefix, entities: [Note], migrations: { path: tenantMigrations, snapshot: false } }),
      database: (tenant) => ({ dbName: tenantDatabaseOf(setup, tenant.id) }),
      servers: setup.servers,
      pool: { maxOpenTenants: 20, connectionsPerTenant: 4, acquireTimeoutMs: 5_000 },
      cacheTtlMs: MOVE_APP_CACHE_TTL_MS,
    },
  });
  return { imports: [tenancy, MikroTenancyModule.forFeature([Note], 'tenant')], controllers: [MoveNotesController, MoveDbSlowNotesController] };
}
