import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { Event } from './entities/event.entity.js';
import { Project } from './entities/project.entity.js';
import { Tenant } from './entities/tenant.entity.js';

/** Connection settings of each of the sample's databases on one PostgreSQL server. */
export function sampleConfigs(serverUrl: string) {
  const on = (dbName: string) => {
    const url = new URL(serverUrl);
    url.pathname = `/${dbName}`;
    return { clientUrl: url.toString(), metadataProvider: ReflectMetadataProvider, pool: { max: 5 } };
  };
  return {
    hub: defineConfig({ ...on('sample_hub'), entities: [Tenant] }),
    analytics: defineConfig({ ...on('sample_analytics'), entities: [Event] }),
    tenant: defineConfig({ ...on('sample_hub'), entities: [Project] }),
  };
}
