import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { TenantStores } from 'nestjs-mikro-tenancy';
import { Project, Task } from './entities.js';
import { Tenant } from './tenancy.entities.js';

/** What the README's snippets call `common`: legacy decorators need the reflect-metadata provider. */
export const common = { metadataProvider: ReflectMetadataProvider } as const;

export const defaultConfig = defineConfig({ ...common, clientUrl: process.env.DATABASE_URL, entities: [Tenant] });
export const tenantConfig = defineConfig({ ...common, clientUrl: process.env.DATABASE_URL, entities: [Project, Task] });
export const store = TenantStores.table(Tenant);
