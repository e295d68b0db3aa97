import type { MikroTenancyModuleOptions } from './tenancy-options.js';

/** `replicaLag`: its defaults and its problems (see options-validation.ts). */

const REPLICA_LAG_DEFAULTS = { maxMs: 5_000, checkEveryMs: 1_000 };

export function normalizeReplicaLag(lag: MikroTenancyModuleOptions['replicaLag']): { maxMs: number; checkEveryMs: number } {
  return { maxMs: lag?.maxMs ?? REPLICA_LAG_DEFAULTS.maxMs, checkEveryMs: lag?.checkEveryMs ?? REPLICA_LAG_DEFAULTS.checkEveryMs };
}

export function replicaLagProblems(lag: MikroTenancyModuleOptions['replicaLag']): string[] {
  if (lag === undefined) return [];
  if (typeof lag !== 'object' || lag === null) return ['replicaLag must be an object ({ maxMs, checkEveryMs })'];
  const problems: string[] = [];
  for (const key of ['maxMs', 'checkEveryMs'] as const) {
    const value = lag[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) problems.push(`replicaLag.${key} must be a positive integer (ms)`);
  }
  const { maxMs, checkEveryMs } = normalizeReplicaLag(lag);
  // a replica serves while its freshness, renewed by each check, is within maxMs: checks further apart would leave gaps
  if (!problems.length && checkEveryMs >= maxMs) problems.push(`replicaLag.checkEveryMs (${checkEveryMs}) must be below replicaLag.maxMs (${maxMs})`);
  return problems;
}
