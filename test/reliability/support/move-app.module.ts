/**
 * The move app for the CLI (`mikro-tenancy tenant move <id> --server <name> --module <this file>`), configured
 * with forRootAsync from MOVE_APP_SETUP and TEST_DATABASE_URL. Exports only its module (the CLI lists exports).
 */
import { cliAppModule } from '../../fixtures/cli-app.js';
import { moveAppOptions, moveAppSetupFromEnv } from './move-app-options.js';

export const AppModule = cliAppModule({ contexts: ['hub'], options: () => moveAppOptions(moveAppSetupFromEnv()) });
