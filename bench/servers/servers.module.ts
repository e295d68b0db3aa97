import { Module, type Type } from '@nestjs/common';
import { MikroTenancyModule, type MikroTenancyModuleOptions, type TenantRecord, type TenantServerOptions, TenantStores, getEntityManagerToken } from '../../src/index.js';
import type { ServerSpec } from '../scenarios.js';
import { tenantId, tenantSchemaName } from '../scenarios.js';
import { SERVER_NAMES, serverBlocks } from '../servers-group.js';
import { articlesController } from './articles.controller.js';
import { itemsController } from './items.controller.js';
import { ormConfig } from './orm-config.js';

type ServersSpec = Extract<ServerSpec, { kind: 'library-servers' }>;

/**
 * Scenario 11: schema isolation with the tenants on `spec.urls`. One URL: the app as it is without tenancy.servers
 * (the reference). Several: tenancy.servers names each (its database in the URL, the template's pool of POOL_MAX per
 * server), and each tenant record names the server of its block.
 */
function options(spec: ServersSpec): MikroTenancyModuleOptions {
  const [first, ...others] = spec.urls;
  if (!first) throw new Error('scenario 11 needs at least one server URL');
  const common = { isolation: 'schema', config: ormConfig(first), schemaName: (tenant: TenantRecord) => tenantSchemaName(tenant.id), injection: 'context' } as const;
  if (!others.length) {
    return { tenancy: { ...common, store: TenantStores.static(Array.from({ length: spec.tenants }, (_, i) => tenantId(i + 1))) } };
  }
  const names = SERVER_NAMES.slice(0, spec.urls.length);
  if (names.length < spec.urls.length) throw new Error(`scenario 11 names ${SERVER_NAMES.length} servers, got ${spec.urls.length} URLs`);
  const records = serverBlocks(spec.tenants, spec.urls.length).flatMap(({ first: from, count }, i) =>
    Array.from({ length: count }, (_, k) => ({ id: tenantId(from + k), server: names[i] as string })),
  );
  const servers: Record<string, TenantServerOptions> = Object.fromEntries(spec.urls.map((url, i) => [names[i], { clientUrl: url }]));
  return { tenancy: { ...common, store: TenantStores.static(records), servers } };
}

/** The library over one or several servers, serving the shared controllers through the tenant EntityManager. */
export function serversModule(spec: ServersSpec): Type<unknown> {
  const emToken = getEntityManagerToken('tenant');
  @Module({
    imports: [MikroTenancyModule.forRoot(options(spec))],
    controllers: [itemsController(emToken), articlesController(emToken)],
  })
  class ServersBenchModule {}
  return ServersBenchModule;
}
