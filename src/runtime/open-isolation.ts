import type { Logger } from '@nestjs/common';
import { DatabaseIsolation } from '../isolation/database/database-isolation.js';
import { TableIsolation } from '../isolation/table/table-isolation.js';
import { SchemaIsolation } from '../isolation/schema/schema-isolation.js';
import { withKeptConnections } from '../isolation/schema/kept-connections.js';
import { DatabaseTierIsolation } from '../isolation/schema/database-tier-isolation.js';
import { ServerRoutedIsolation } from '../isolation/servers/server-routed-isolation.js';
import { serverConfig } from '../isolation/servers/server-config.js';
import type { TenantIsolationStrategy } from '../isolation/tenant-isolation.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import type { NormalizedTenancy } from '../options/options-validation.js';
import type { ContextConfig, TenantPoolOptions } from '../options/tenancy-options.js';
import type { TenantServerOptions } from '../options/tenant-servers.js';
import { driverClassesOf } from '../options/driver-classes.js';
import { databaseNameOf } from '../options/database-name.js';
import { SHARED_TIER_SCHEMA } from '../options/tokens.js';

/**
 * The isolation strategy of a tenant context: one per isolation mode, or, with several servers or schema isolation's
 * database tier, one per server and tier behind ServerRoutedIsolation.
 */
export async function openTenantIsolation<T extends TenantRecord>(options: NormalizedTenancy<T>, logger: Logger, currentTenantId: () => string | undefined): Promise<TenantIsolationStrategy<T>> {
  return options.servers || options.databaseTier || options.sharedTier
    ? openServers(options, logger, currentTenantId)
    : openIsolation(options, options.config, options.pool, logger, currentTenantId);
}

/** The isolation strategy of one server: `template` is `tenancy.config`, with a server's connection options laid over. */
async function openIsolation<T extends TenantRecord>(
  options: NormalizedTenancy<T>,
  template: ContextConfig,
  pool: Required<TenantPoolOptions>,
  logger: Logger,
  currentTenantId: () => string | undefined,
): Promise<TenantIsolationStrategy<T>> {
  const { contextName } = options;
  if (options.isolation === 'schema') {
    const { schemaName, searchPath, reservedSchemas, connectionGroups } = options;
    const mixedTier = options.sharedTier?.shared;
    // one pool for every schema: its connections' catalog caches are worth keeping (the database tier has one schema)
    return SchemaIsolation.open<T>({ contextName, template: withKeptConnections(template), schemaName, searchPath, reservedSchemas, currentTenantId, connectionGroups, mixedTier, logger });
  }
  if (options.isolation === 'table') return TableIsolation.open<T>({ contextName, template, shared: options.sharedTables, currentTenantId, logger });
  const { database, reservedDatabases, staticContexts } = options;
  return new DatabaseIsolation<T>({ contextName, template, database, pool, reservedDatabases, staticContexts, logger });
}

/**
 * Several servers, or schema isolation's database tier: one strategy per server (one unnamed server without
 * `tenancy.servers`), plus a database-tier strategy per server, each tenant routed by its record (ServerRoutedIsolation).
 */
async function openServers<T extends TenantRecord>(options: NormalizedTenancy<T>, logger: Logger, currentTenantId: () => string | undefined): Promise<ServerRoutedIsolation<T>> {
  const servers: ReadonlyMap<string, TenantServerOptions> = options.servers ?? new Map([['', {}]]);
  const opened = new Map<string, TenantIsolationStrategy<T>>();
  const databaseTier = new Map<string, TenantIsolationStrategy<T>>();
  const sharedTier = new Map<string, TenantIsolationStrategy<T>>();
  try {
    for (const [name, server] of servers) {
      const pool = { ...options.pool, ...definedOnly(server.tenantPool ?? {}) };
      const template = serverConfig(options.config, server);
      opened.set(name, await openIsolation(options, template, pool, logger, currentTenantId));
      const sharedDatabase = options.sharedTier && sharedTierDatabaseOf(options.sharedTier, template);
      if (options.databaseTier) {
        const { contextName, schemaName, searchPath, reservedSchemas, reservedDatabases } = options;
        const reserved = [...reservedDatabases, ...(template.dbName ? [template.dbName] : []), ...(sharedDatabase ? [sharedDatabase] : [])];
        const tier = { contextName, template, schemaName, searchPath, reservedSchemas, currentTenantId, logger, pool, reservedDatabases: reserved, databaseName: options.databaseTier.databaseName, mixedTier: options.sharedTier?.shared };
        databaseTier.set(name, new DatabaseTierIsolation<T>(tier));
      }
      if (options.sharedTier && sharedDatabase) {
        const { contextName, searchPath } = options;
        const shared = await TableIsolation.open<T>({
          contextName,
          template: { ...withKeptConnections(template), dbName: sharedDatabase },
          shared: options.sharedTier.shared,
          currentTenantId,
          logger,
          sharedTier: { schema: SHARED_TIER_SCHEMA, searchPath },
        });
        sharedTier.set(name, shared);
      }
    }
  } catch (error) {
    // what opened before the failure must not keep pools (and the process) alive
    await Promise.allSettled([...opened.values(), ...databaseTier.values(), ...sharedTier.values()].map((strategy) => strategy.close()));
    throw error;
  }
  return new ServerRoutedIsolation(
    options.contextName,
    opened,
    options.databaseTier ? databaseTier : undefined,
    options.servers !== undefined,
    logger,
    options.sharedTier ? sharedTier : undefined,
  );
}

/** The shared tier's database on a server: `sharedTier.dbName`, or the server's tenant database + `_shared`. */
function sharedTierDatabaseOf(sharedTier: NonNullable<NormalizedTenancy['sharedTier']>, template: ContextConfig): string | undefined {
  if (sharedTier.dbName) return sharedTier.dbName;
  const tenantDatabase = databaseNameOf(template);
  return tenantDatabase && `${tenantDatabase}_shared`;
}

function definedOnly<O extends object>(value: O): Partial<O> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<O>;
}

/**
 * The prototype injected tenant EntityManager proxies present, so `instanceof` checks pass: the tenant ORM's own
 * EntityManager class where one ORM serves every tenant (schema, table), the driver's otherwise (database mode).
 */
export function entityManagerPrototypeOf<T extends TenantRecord>(isolation: TenantIsolationStrategy<T>, options: NormalizedTenancy<T>): object {
  const first = isolation instanceof ServerRoutedIsolation ? (isolation.servers.values().next().value as TenantIsolationStrategy<T>) : isolation;
  if (first instanceof SchemaIsolation || first instanceof TableIsolation) return Object.getPrototypeOf(first.orm.em) as object;
  return driverClassesOf(options.config).entityManager.prototype as object;
}
