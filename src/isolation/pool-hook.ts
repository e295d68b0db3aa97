import type { ContextConfig } from '../options/tenancy-options.js';

/**
 * `config` with `hook` run on the node-postgres Pool MikroORM creates (driverOptions.onPoolCreated, called before
 * anything uses the pool), ahead of the hooks already configured: those then see, and may wrap, what it did.
 * driverOptions must be a plain object (pg options), as schema mode already requires.
 */
export function withPoolHook<P>(config: ContextConfig, hook: (pool: P) => void): ContextConfig {
  const driverOptions = (config.driverOptions ?? {}) as Record<string, unknown>;
  const next = driverOptions.onPoolCreated as ((pool: P) => unknown) | undefined;
  return {
    ...config,
    driverOptions: {
      ...driverOptions,
      onPoolCreated: (pool: P) => {
        hook(pool);
        return next?.(pool);
      },
    },
  };
}
