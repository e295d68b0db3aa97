import type { ContextConfig } from '../../options/tenancy-options.js';
import type { TenantServerOptions } from '../../options/tenant-servers.js';

/**
 * The tenant template on one server: the server's connection options over `tenancy.config`. A server `clientUrl`
 * replaces every connection part of the template (MikroORM would otherwise prefer the template's explicit host,
 * port, user or database over the URL's, and the tenant would land on the template's server); otherwise each part
 * the server names replaces the template's.
 */
export function serverConfig(template: ContextConfig, server: TenantServerOptions): ContextConfig {
  const { clientUrl, host, port, user, password, dbName, driverOptions, pool } = server;
  const config: ContextConfig = { ...template };
  if (clientUrl !== undefined) {
    for (const key of ['clientUrl', 'host', 'port', 'user', 'password'] as const) delete config[key];
    if (databaseOfUrl(clientUrl)) delete config.dbName;
    config.clientUrl = clientUrl;
  }
  const parts = { host, port, user, password, dbName, pool };
  for (const [key, value] of Object.entries(parts)) if (value !== undefined) (config as Record<string, unknown>)[key] = value;
  if (driverOptions) config.driverOptions = { ...(template.driverOptions as object | undefined), ...driverOptions };
  return config;
}

/** The database a connection URL names, if any (a URL that does not parse names none: validation reports it). */
function databaseOfUrl(clientUrl: string): string | undefined {
  try {
    return decodeURIComponent(new URL(clientUrl).pathname.replace(/^\//, '')) || undefined;
  } catch {
    return undefined;
  }
}
