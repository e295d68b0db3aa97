/**
 * The tier-move app for the CLI (`mikro-tenancy tenant move <id> --tier <tier> --module <this file>`), configured
 * with forRootAsync from MOVE_TIERS_SETUP and TEST_DATABASE_URL. Exports only its module (the CLI lists exports).
 */
import { cliAppModule } from '../../fixtures/cli-app.js';
import { moveTiersOptions, moveTiersSetupFromEnv } from './move-tiers-options.js';

export const AppModule = cliAppModule({ contexts: ['hub'], options: () => moveTiersOptions(moveTiersSetupFromEnv()) });
