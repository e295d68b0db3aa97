/**
 * The shared-tier move app for the CLI (`mikro-tenancy tenant move <id> --tier <tier> --module <this file>`),
 * configured from MOVE_SHARED_SETUP and TEST_DATABASE_URL. Exports only its module (the CLI lists exports).
 */
import { cliAppModule } from '../../fixtures/cli-app.js';
import { moveSharedOptions, moveSharedSetupFromEnv } from './move-shared-options.js';

export const AppModule = cliAppModule({ contexts: ['hub'], options: () => moveSharedOptions(moveSharedSetupFromEnv()) });
