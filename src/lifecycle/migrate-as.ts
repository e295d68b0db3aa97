import type { ContextConfig } from '../options/tenancy-options.js';

/** `tenancy.migrateAs`: the migration connections log in as that role (in a `clientUrl` too, which would win). */
export function withCredentials(config: ContextConfig, as: { user: string; password?: string } | undefined): ContextConfig {
  if (!as) return config;
  const credentials = { user: as.user, ...(as.password !== undefined ? { password: as.password } : {}) };
  if (!config.clientUrl) return { ...config, ...credentials };
  const url = new URL(config.clientUrl);
  url.username = encodeURIComponent(as.user);
  if (as.password !== undefined) url.password = encodeURIComponent(as.password);
  return { ...config, ...credentials, clientUrl: url.toString() };
}
