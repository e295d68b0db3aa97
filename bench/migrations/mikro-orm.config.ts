/**
 * Config for MikroORM's own CLI in the per-schema baseline of the migration benchmark:
 * `mikro-orm migration:up --schema tenant_x --config bench/migrations/mikro-orm.config.ts` with BENCH_MIGRATION_URL.
 */
import { migrationConfig } from './migration-config.js';

const url = process.env.BENCH_MIGRATION_URL;
if (!url) throw new Error('BENCH_MIGRATION_URL is not set (bench/run.ts sets it)');

export default migrationConfig(url);
