import type { Options } from '@mikro-orm/core';
import type { TenantServerOptions } from '../options/tenant-servers.js';

/**
 * How the target server reaches the source for `CREATE SUBSCRIPTION ... CONNECTION`: the server's
 * `subscriptionConnection` when set (another host name seen from the other server, a role with REPLICATION), else a
 * libpq string built from the connection the move itself uses on the source.
 */
export function sourceConninfoOf(config: Pick<Options, 'clientUrl' | 'host' | 'port' | 'user' | 'password' | 'dbName'>, server: TenantServerOptions | undefined): string {
  if (server?.subscriptionConnection) return server.subscriptionConnection;
  const parts: Record<string, string | number | undefined> = {};
  if (config.clientUrl) {
    const url = new URL(config.clientUrl);
    Object.assign(parts, {
      host: decodeURIComponent(url.hostname) || undefined,
      port: url.port || undefined,
      user: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
      dbname: decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined,
    });
  }
  // explicit options win over the URL's parts, as MikroORM applies them
  for (const [key, value] of [['host', config.host], ['port', config.port], ['user', config.user], ['password', config.password], ['dbname', config.dbName]] as const) {
    if (value !== undefined && value !== '') parts[key] = typeof value === 'function' ? undefined : (value as string | number);
  }
  return Object.entries(parts)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}='${String(value).replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`)
    .join(' ');
}
