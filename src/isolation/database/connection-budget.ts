import type { Logger } from '@nestjs/common';
import { messageOf } from '../../errors/message-of.js';
import type { ContextConfig, TenantPoolOptions } from '../../options/tenancy-options.js';
import { onManagementDatabase } from '../management-database.js';
import { isPostgreSqlDriver } from '../pg-pool-guards.js';

/** node-postgres' Pool `max` when a context sets none. */
const PG_DEFAULT_POOL_MAX = 10;
/** The check is advice: it never waits long for a server that does not answer. */
const CHECK_CONNECT_TIMEOUT_MS = 5_000;

const LIMITS_SQL =
  "select current_setting('max_connections')::int as max_connections, " +
  "current_setting('superuser_reserved_connections')::int as superuser_reserved, " +
  // PostgreSQL 16+ only: null before
  "current_setting('reserved_connections', true)::int as reserved";

export interface ConnectionBudgetSettings {
  contextName: string;
  /** The tenant template: tenant databases are assumed to be on its server. */
  template: ContextConfig;
  pool: Pick<Required<TenantPoolOptions>, 'maxOpenTenants' | 'connectionsPerTenant'>;
  /** The static contexts: those on the template's server share its connections. */
  staticContexts: ReadonlyMap<string, ContextConfig>;
  logger: Logger;
}

/** One app instance's worst case against what the server accepts. */
export interface ConnectionBudget {
  /** `host:port` of the tenant template's server. */
  server: string;
  tenantConnections: number;
  /** Pool size of each static context on the same server. */
  staticContexts: { context: string; max: number }[];
  worstCase: number;
  maxConnections: number;
  superuserReserved: number;
  /** `reserved_connections` (PostgreSQL 16+); undefined when the server has no such setting. */
  reserved?: number;
  /** Connections an ordinary role can open: max_connections minus both reserves. */
  available: number;
}

/**
 * Database mode, at boot: the most connections one app instance may hold on the tenant template's server
 * (`maxOpenTenants x connectionsPerTenant`, a strict bound, plus the pools of the static contexts on that server),
 * against what the server accepts. Warns, with every number and the fixes, when it does not fit; says so when the
 * server cannot be asked. Never throws: boot must not fail over advice. Returns the budget when it could be read.
 */
export async function checkConnectionBudget(settings: ConnectionBudgetSettings): Promise<ConnectionBudget | undefined> {
  const { contextName, template, pool, logger } = settings;
  if (template.driverOptions !== undefined && !isPlain(template.driverOptions)) {
    logger.debug(`Tenant context '${contextName}': connection budget not checked (tenancy.config.driverOptions is a Kysely dialect or instance).`);
    return undefined;
  }
  let server = 'the tenant template server';
  try {
    server = serverOf(template);
    const tenantConnections = pool.maxOpenTenants * pool.connectionsPerTenant;
    const staticContexts = [...settings.staticContexts]
      .filter(([, config]) => isPostgreSqlDriver(config.driver) && serverOf(config) === server)
      .map(([context, config]) => ({ context, max: poolMaxOf(config) }));
    const worstCase = tenantConnections + staticContexts.reduce((sum, s) => sum + s.max, 0);
    const limits = await readLimits(template, logger, `the connection budget check of tenant context '${contextName}'`);
    const available = limits.maxConnections - limits.superuserReserved - (limits.reserved ?? 0);
    const budget: ConnectionBudget = { server, tenantConnections, staticContexts, worstCase, ...limits, available };
    if (worstCase > available) logger.warn(overBudgetMessage(contextName, pool, budget));
    else logger.debug(`Tenant context '${contextName}': at most ${worstCase} connections to ${server}, which accepts ${available}.`);
    return budget;
  } catch (error) {
    logger.warn(
      `Tenant context '${contextName}': could not read max_connections from PostgreSQL at ${server} to check the connection ` +
        `budget (${messageOf(error)}). Nothing else is affected; make sure the server accepts ` +
        `tenancy.pool.maxOpenTenants x connectionsPerTenant (${pool.maxOpenTenants} x ${pool.connectionsPerTenant}) plus the static contexts' pools.`,
    );
    return undefined;
  }
}

function overBudgetMessage(contextName: string, pool: ConnectionBudgetSettings['pool'], b: ConnectionBudget): string {
  const statics = b.staticContexts.length
    ? `, plus ${b.worstCase - b.tenantConnections} for the static contexts on that server (${b.staticContexts.map((s) => `'${s.context}' ${s.max}`).join(', ')})`
    : '';
  const reserved = b.reserved === undefined ? '' : ` - reserved_connections ${b.reserved}`;
  return (
    `Tenant context '${contextName}' may open up to ${b.worstCase} connections to PostgreSQL at ${b.server}, more than the ` +
    `${b.available} it accepts: tenancy.pool.maxOpenTenants ${pool.maxOpenTenants} x connectionsPerTenant ${pool.connectionsPerTenant} = ` +
    `${b.tenantConnections} for tenant databases${statics}, against max_connections ${b.maxConnections} - superuser_reserved_connections ` +
    `${b.superuserReserved}${reserved} = ${b.available}. Under load, connections beyond that are refused ("too many clients"). ` +
    `Lower tenancy.pool.maxOpenTenants or connectionsPerTenant, raise max_connections, or put PgBouncer in front of ` +
    `PostgreSQL (docs/production.md). This counts one app instance: every other instance and CLI run needs its own share.`
  );
}

async function readLimits(template: ContextConfig, logger: Logger, label: string): Promise<Pick<ConnectionBudget, 'maxConnections' | 'superuserReserved' | 'reserved'>> {
  // no entities: this ORM must not decorate the tenant entities' prototypes (see shared-hydration-state.ts); and no
  // onPoolCreated: the app's hook is for the pools that serve tenants, not for this one-off connection
  const { onPoolCreated: _hook, ...driverOptions } = plainDriverOptions(template);
  const options: ContextConfig = {
    ...template,
    entities: [],
    entitiesTs: [],
    discovery: { ...template.discovery, warnWhenNoEntities: false },
    driverOptions: { connectionTimeoutMillis: CHECK_CONNECT_TIMEOUT_MS, ...driverOptions },
  };
  const [row] = await onManagementDatabase(options, logger, label, (orm) =>
    orm.em.getConnection().execute<{ max_connections: number; superuser_reserved: number; reserved: number | null }[]>(LIMITS_SQL),
  );
  if (!row) throw new Error('the server returned no settings');
  return { maxConnections: row.max_connections, superuserReserved: row.superuser_reserved, ...(row.reserved === null ? {} : { reserved: row.reserved }) };
}

/** `host:port` a PostgreSQL config connects to, resolved as MikroORM and node-postgres do (driverOptions win). */
function serverOf(config: ContextConfig): string {
  const driver = plainDriverOptions(config);
  const url = config.clientUrl && URL.canParse(config.clientUrl) ? new URL(config.clientUrl) : undefined;
  const host = String(driver.host ?? config.host ?? (url?.hostname ? decodeURIComponent(url.hostname) : '127.0.0.1'));
  const port = Number(driver.port ?? config.port ?? (url?.port || 5432));
  // one name for the local host, so a context on `localhost` is seen on the same server as one on 127.0.0.1
  return `${['localhost', '::1', '[::1]'].includes(host) ? '127.0.0.1' : host}:${port}`;
}

function poolMaxOf(config: ContextConfig): number {
  const max = plainDriverOptions(config).max ?? config.pool?.max;
  return typeof max === 'number' ? max : PG_DEFAULT_POOL_MAX;
}

/** `driverOptions` when it is plain pool options (not a Kysely dialect or instance, whose pool is not ours to read). */
function plainDriverOptions(config: ContextConfig): Record<string, unknown> {
  return isPlain(config.driverOptions) ? config.driverOptions : {};
}

function isPlain(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
