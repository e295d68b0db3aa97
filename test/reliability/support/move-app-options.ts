/**
 * The app of the app-level move test (test/reliability/tenant-move-app.rel-spec.ts): schema isolation on two
 * servers (`x`, `y`, both wal_level = logical), the hub (placed_tenant, with a server column) on the test server, a
 * long lookup cache so that an instance learns of a move only through the hub's notifications. The same options
 * serve the in-process instance, the child instance (move-app-instance.ts) and the CLI (move-app.module.ts); children
 * read them from MOVE_APP_SETUP (JSON of MoveAppSetup) and TEST_DATABASE_URL.
 */
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import type { ModuleMetadata } from '@nestjs/common';
import { fileURLToPath } from 'node:url';
import { MikroTenancyModule, type MikroTenancyModuleOptions, TenantStores } from '../../../src/index.js';
import { Note } from '../../fixtures/entities/note.entity.js';
import { PlacedTenant } from '../../fixtures/entities/placed-tenant.entity.js';
import { connectionOptions } from '../../support/test-databases.js';
import { MoveNotesController } from './move-app.controller.js';

export interface MoveAppServer {
  host: string;
  port: number;
  user: string;
  password?: string;
}

export interface MoveAppSetup {
  /** Hub database on the test server (placed_tenant). */
  hubDb: string;
  /** The database holding the tenant schemas on every server. */
  tenantsDb: string;
  servers: Record<string, MoveAppServer>;
}

/** Long enough that only a notification can make an instance see a move in time. */
export const MOVE_APP_CACHE_TTL_MS = 600_000;

const tenantMigrations = fileURLToPath(new URL('../../fixtures/migrations/tenant', import.meta.url));

export function moveAppOptions(setup: MoveAppSetup): MikroTenancyModuleOptions {
  const common = { metadataProvider: ReflectMetadataProvider, debug: false } as const;
  const first = Object.values(setup.servers)[0] as MoveAppServer;
  return {
    contexts: { hub: defineConfig({ ...common, ...connectionOptions(setup.hubDb), entities: [PlacedTenant], pool: { max: 3 } }) },
    tenancy: {
      isolation: 'schema',
      store: TenantStores.table(PlacedTenant, { context: 'hub' }),
      config: defineConfig({ ...common, ...first, dbName: setup.tenantsDb, entities: [Note], pool: { max: 6 }, migrations: { path: tenantMigrations, snapshot: false } }),
      servers: setup.servers,
      cacheTtlMs: MOVE_APP_CACHE_TTL_MS,
    },
  };
}

/** The Nest module of one app instance: the tenancy module and the notes controller. */
export function moveAppMetadata(setup: MoveAppSetup): ModuleMetadata {
  return { imports: [MikroTenancyModule.forRoot(moveAppOptions(setup)), MikroTenancyModule.forFeature([Note], 'tenant')], controllers: [MoveNotesController] };
}

export function moveAppSetupFromEnv(): MoveAppSetup {
  const json = process.env.MOVE_APP_SETUP;
  if (!json) throw new Error('MOVE_APP_SETUP is not set');
  return JSON.parse(json) as MoveAppSetup;
}
