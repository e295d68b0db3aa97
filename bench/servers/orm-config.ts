import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { Item } from '../entities.js';
import { POOL_MAX } from '../scenarios.js';

/**
 * The MikroORM config every Nest scenario starts from: same entity, same pool size, no query logging, and no
 * startup discovery surprises (the entity is given as a class).
 */
export function ormConfig(clientUrl: string, poolMax: number = POOL_MAX) {
  return defineConfig({
    metadataProvider: ReflectMetadataProvider,
    clientUrl,
    entities: [Item],
    debug: false,
    pool: { min: 0, max: poolMax },
  });
}
