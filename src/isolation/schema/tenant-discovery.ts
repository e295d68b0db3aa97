import type { EntityMetadata, Platform } from '@mikro-orm/core';
import type { ContextConfig } from '../../options/tenancy-options.js';
import { InvalidTenancyOptionsError } from '../../errors/options.errors.js';

/**
 * Makes every tenant entity wildcard-schema (`schema: '*'`) at discovery, so MikroORM qualifies each of its tables
 * with the fork's schema. An entity that names a schema of its own is refused: it would be shared by every tenant.
 */
export function tenantDiscovery(template: ContextConfig, contextName: string): ContextConfig['discovery'] {
  const userOnMetadata = template.discovery?.onMetadata;
  return {
    ...template.discovery,
    onMetadata: async (meta: EntityMetadata, platform: Platform) => {
      await userOnMetadata?.(meta, platform);
      if (meta.schema && meta.schema !== '*') {
        throw new InvalidTenancyOptionsError([
          `tenant context '${contextName}': entity ${meta.className} names the schema '${meta.schema}'. Tenant entities ` +
            `live in each tenant's schema: remove \`schema\` from its @Entity() (the library qualifies every table with ` +
            `the tenant's schema), or move the entity to a static context`,
        ]);
      }
      meta.schema = '*';
    },
  };
}
