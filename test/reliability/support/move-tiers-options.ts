/**
 * The app of the tier-move test (test/reliability/tenant-move-tiers.rel-spec.ts): the app-level move app
 * (move-app-options.ts: schema isolation on servers `x` and `y`, the hub on the test server, lookups cached for
 * 10 min) with `tenancy.databaseTier`: a tenant whose record says `tier: 'database'` lives in the database
 * `<tierDbPrefix>_<id>` on its server. Children read the setup from MOVE_TIERS_SETUP (JSON of MoveTiersSetup).
 */
import type { ModuleMetadata } from '@nestjs/common';
import { MikroTenancyModule, type MikroTenancyModuleOptions } from '../../../src/index.js';
import { Note } from '../../fixtures/entities/note.entity.js';
import type { PlacedTenant } from '../../fixtures/entities/placed-tenant.entity.js';
import { MoveNotesController } from './move-app.controller.js';
import { type MoveAppSetup, moveAppOptions } from './move-app-options.js';

export interface MoveTiersSetup extends MoveAppSetup {
  /** A database-tier tenant's database is `<tierDbPrefix>_<tenant id>` (on its server). */
  tierDbPrefix: string;
}

export function tierDatabaseOf(setup: MoveTiersSetup, tenantId: string): string {
  return `${setup.tierDbPrefix}_${tenantId}`;
}

export function moveTiersOptions(setup: MoveTiersSetup): MikroTenancyModuleOptions {
  const base = moveAppOptions(setup);
  const tenancy = base.tenancy as NonNullable<MikroTenancyModuleOptions<PlacedTenant>['tenancy']>;
  return { ...base, tenancy: { ...tenancy, databaseTier: { dbName: (tenant: PlacedTenant) => tierDatabaseOf(setup, tenant.id) } } } as MikroTenancyModuleOptions;
}

/** The Nest module of one app instance: the tenancy module (with the database tier) and the notes controller. */
export function moveTiersMetadata(setup: MoveTiersSetup): ModuleMetadata {
  return { imports: [MikroTenancyModule.forRoot(moveTiersOptions(setup)), MikroTenancyModule.forFeature([Note], 'tenant')], controllers: [MoveNotesController] };
}

export function moveTiersSetupFromEnv(): MoveTiersSetup {
  const json = process.env.MOVE_TIERS_SETUP;
  if (!json) throw new Error('MOVE_TIERS_SETUP is not set');
  return JSON.parse(json) as MoveTiersSetup;
}
