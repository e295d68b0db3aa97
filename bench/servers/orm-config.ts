import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { BENCH_ENTITIES } from '../entities.js';
import { POOL_MAX } from '../scenarios.js';

/**
 * The MikroORM config every Nest scenario starts from: same entities, same pool size, no query logging, and no
 * startup discovery surprises (the entities are given as classes).
 */
export function ormConfig(clientUrl: string, poolMax: number = POOL_MAX) {
  return defineConfig({
    metadataProvider: ReflectMetadataProvider,
    clientUrl,
    entities: BENCH_ENTITIES,
    debug: false,
    pool: { min: 0, max: poolMax, ...idleTimeout() },
    ...maxLifetime(),
  });
}

/**
 * BENCH_POOL_IDLE_MS (validated by the orchestrator, settings.ts; inherited by every server process): pg's idle
 * timeout for the pool (unset: the app's own, pg's 10 s, or schema isolation's 10 min for its tenant pool; 0 keeps
 * idle connections open). A connection closed while its server waits for its turn takes its PostgreSQL caches with
 * it.
 */
function idleTimeout(): { idleTimeoutMillis?: number } {
  const value = process.env.BENCH_POOL_IDLE_MS;
  return value === undefined || value === '' ? {} : { idleTimeoutMillis: Number(value) };
}

/**
 * BENCH_POOL_MAX_LIFETIME_S (validated by the orchestrator, settings.ts): pg's `maxLifetimeSeconds`, passed through
 * MikroORM's driverOptions (its pool options). Each connection is replaced after that long, which bounds how many
 * schemas' catalogs its PostgreSQL backend has cached.
 */
function maxLifetime(): { driverOptions?: { maxLifetimeSeconds: number } } {
  const value = process.env.BENCH_POOL_MAX_LIFETIME_S;
  return value === undefined || value === '' ? {} : { driverOptions: { maxLifetimeSeconds: Number(value) } };
}
