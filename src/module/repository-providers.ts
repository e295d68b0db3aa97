import { EntityRepository, EntitySchema, type EntityName, MetadataStorage } from '@mikro-orm/core';
import { getEntityManagerToken, getRepositoryToken } from '@mikro-orm/nestjs';
import type { EntityManager } from '@mikro-orm/core';
import type { Provider } from '@nestjs/common';
import { createTenantRepository } from '../scope/tenant-proxies.js';
import { UnknownContextError } from '../errors/options.errors.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { DEFAULT_CONTEXT } from '../options/tokens.js';

type RepositoryClass = abstract new (...args: never[]) => object;

/** The custom repository class declared on an entity (`@Entity({ repository: () => ProjectRepository })`), if any. */
function customRepositoryOf(entity: EntityName<object>): RepositoryClass | undefined {
  if (entity instanceof EntitySchema) return entity.meta.repository?.() as RepositoryClass | undefined;
  const schema = typeof entity === 'function' ? EntitySchema.REGISTRY.get(entity) : undefined;
  const meta = schema?.meta ?? Object.values(MetadataStorage.getMetadata()).find((m) => m.class === entity);
  return meta?.repository?.() as RepositoryClass | undefined;
}

function entityLabel(entity: EntityName<object>): string {
  return entity instanceof EntitySchema ? entity.meta.className : typeof entity === 'function' ? entity.name : String(entity);
}

/**
 * Repository tokens of @mikro-orm/nestjs (`<Entity>Repository_<context>`, plus the bare token for the default
 * context and the custom repository class). Static contexts get the ORM's repository (its EM resolves the request
 * fork on every call); the tenant context gets a repository standing for the current tenant's.
 */
export function repositoryProviders(entities: readonly EntityName<object>[], contextName: string): Provider[] {
  const emToken = getEntityManagerToken(contextName);
  return entities.flatMap((entity) => {
    const custom = customRepositoryOf(entity);
    const factory = (runtime: TenancyRuntime, em: EntityManager | undefined): object => {
      if (!em) {
        const known = runtime.allContextNames;
        throw new UnknownContextError(contextName, known, `MikroTenancyModule.forFeature([${entityLabel(entity)}])`);
      }
      const tenants = runtime.tenants;
      if (tenants?.contextName === contextName && tenants.options.injection === 'context') {
        return createTenantRepository(entity, custom ?? EntityRepository, () => runtime.context.tenantEm(contextName));
      }
      return em.getRepository(entity);
    };
    const inject = [TenancyRuntime, { token: emToken, optional: true }];
    const tokens: (string | RepositoryClass)[] = [getRepositoryToken(entity, contextName)];
    if (contextName === DEFAULT_CONTEXT) tokens.push(getRepositoryToken(entity));
    if (custom) tokens.push(custom);
    return tokens.map((provide): Provider => ({ provide, useFactory: factory, inject }));
  });
}
