import type { ContextConfig } from './tenancy-options.js';

/**
 * The database a context config connects to, resolved as MikroORM does: an explicit `dbName` wins over the path of
 * `clientUrl`. Undefined when neither names one (or the URL is invalid: MikroORM reports that when the context starts).
 */
export function databaseNameOf(config: ContextConfig): string | undefined {
  if (config.dbName) return config.dbName;
  if (!config.clientUrl || !URL.canParse(config.clientUrl)) return undefined;
  return decodeURIComponent(new URL(config.clientUrl).pathname).replace(/^\//, '') || undefined;
}
