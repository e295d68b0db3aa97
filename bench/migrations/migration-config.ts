import { Migrator } from '@mikro-orm/migrations';
import { fileURLToPath } from 'node:url';
import type { ContextConfig } from '../../src/index.js';
import { ormConfig } from '../servers/orm-config.js';

/**
 * The bench's 4-migration tenant set: an `item` table, then a column + index, then another column, then the
 * relational model (author, tag, article, article_tags; generated from bench/entities.ts).
 */
export const TENANT_MIGRATIONS_PATH = fileURLToPath(new URL('./tenant', import.meta.url));
export const MIGRATION_SET_SIZE = 4;

/**
 * The tenant config of the migration benchmark, used both by the library's fan-out and, through
 * mikro-orm.config.ts, by MikroORM's own CLI: same entities, same migrations folder, no snapshot rewrites.
 */
export function migrationConfig(clientUrl: string): ContextConfig {
  return {
    ...ormConfig(clientUrl, 2),
    extensions: [Migrator],
    migrations: { path: TENANT_MIGRATIONS_PATH, pathTs: TENANT_MIGRATIONS_PATH, snapshot: false, snapshotOnMigrate: false, silent: true },
  };
}
