import { EntityManager } from '@mikro-orm/postgresql';
import { Module, type Type } from '@nestjs/common';
import { MikroTenancyModule, type MikroTenancyModuleOptions, TenantStores, getEntityManagerToken } from '../../src/index.js';
import { tenantDatabaseName, tenantId, tenantSchemaName } from '../scenarios.js';
import { SHARED_TABLES } from '../shared-tables.js';
import type { ServerSpec } from '../scenarios.js';
import { articlesController } from './articles.controller.js';
import { itemsController } from './items.controller.js';
import { ormConfig } from './orm-config.js';

type LibrarySpec = Extract<ServerSpec, { kind: 'library-static' | 'library-schema' | 'library-database' | 'library-table' }>;

const tenantIds = (count: number): string[] => Array.from({ length: count }, (_, i) => tenantId(i + 1));

/** The library's options for one scenario (3: static contexts only; 4/7: schema isolation; 5/6: database isolation; 10: shared tables). */
function options(spec: LibrarySpec): MikroTenancyModuleOptions {
  switch (spec.kind) {
    case 'library-static':
      // two static contexts, the request touches one: what the middleware and lazy forks cost
      return { contexts: { default: ormConfig(spec.url), secondary: ormConfig(spec.secondaryUrl, 2) } };
    case 'library-schema':
      return {
        tenancy: {
          isolation: 'schema',
          config: ormConfig(spec.url),
          store: TenantStores.static(tenantIds(spec.tenants)),
          schemaName: (tenant) => tenantSchemaName(tenant.id),
          injection: spec.injection,
          ...(spec.connectionGroups ? { connectionAffinity: { groups: spec.connectionGroups } } : {}),
        },
      };
    case 'library-database':
      return {
        tenancy: {
          isolation: 'database',
          config: ormConfig(spec.url, spec.connectionsPerTenant),
          store: TenantStores.static(tenantIds(spec.tenants)),
          database: (tenant) => ({ dbName: tenantDatabaseName(tenant.id) }),
          pool: { maxOpenTenants: spec.maxOpenTenants, connectionsPerTenant: spec.connectionsPerTenant },
        },
      };
    case 'library-table':
      // with row-level security, spec.url is the RLS-bound role's (checked at boot); without, the tables' owner
      return {
        tenancy: {
          isolation: 'table',
          config: ormConfig(spec.url),
          store: TenantStores.static(tenantIds(spec.tenants)),
          sharedTables: { ...SHARED_TABLES, rowLevelSecurity: spec.rowLevelSecurity },
        },
      };
  }
}

/** The library in one of its modes, serving the shared controllers through the matching EntityManager. */
export function libraryModule(spec: LibrarySpec): Type<unknown> {
  const emToken = spec.kind === 'library-static' ? EntityManager : getEntityManagerToken('tenant');
  @Module({
    imports: [MikroTenancyModule.forRoot(options(spec))],
    controllers: [itemsController(emToken), articlesController(emToken)],
  })
  class LibraryBenchModule {}
  return LibraryBenchModule;
}
