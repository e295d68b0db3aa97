import type { ModuleMetadata } from '@nestjs/common';
import { InvalidOutboxOptionsError } from './outbox.errors.js';

export interface OutboxRelayOptions {
  /** Start the background relay with the app. Default true; the `mikro-tenancy` CLI never runs it. */
  enabled?: boolean;
  /**
   * How often the relay looks at the static contexts and at the tenants this process added messages for recently,
   * in ms. Default 1000.
   */
  intervalMs?: number;
  /**
   * How often it looks at every tenant (messages added by other instances, left by a crash, or due for a retry), in
   * ms. Default 30000. In database mode each look opens the tenant's database, like a request would.
   */
  sweepIntervalMs?: number;
  /** Messages claimed per source and pass (one transaction on the sender holds their row locks). Default 100. */
  batchSize?: number;
  /** Sources (static contexts, tenants) relayed at once. Default 4. */
  concurrency?: number;
}

export interface OutboxModuleOptions {
  relay?: OutboxRelayOptions;
  /** Failed deliveries before a message is dead (kept, not retried, shown by health and the CLI). Default 10. */
  maxAttempts?: number;
  /** Exponential backoff between failed attempts: `initialMs * 2^(attempt-1)`, at most `maxMs`, jittered. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Delivered messages are deleted this long after delivery (at sweeps), in ms; `false` keeps them. Default 7 days. */
  retainDeliveredMs?: number | false;
}

export interface OutboxModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: never[]) => OutboxModuleOptions | Promise<OutboxModuleOptions>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inject?: any[];
}

export interface NormalizedOutboxOptions {
  relay: Required<OutboxRelayOptions>;
  maxAttempts: number;
  backoff: { initialMs: number; maxMs: number };
  retainDeliveredMs: number | false;
}

/** The options given to OutboxModule.forRoot, or returned by forRootAsync's factory. */
export const OUTBOX_OPTIONS = Symbol('OUTBOX_OPTIONS');

const DAY_MS = 86_400_000;

/** Defaults filled in; every invalid value reported at once (boot fails with all of them). */
export function normalizeOutboxOptions(options: OutboxModuleOptions = {}): NormalizedOutboxOptions {
  const problems: string[] = [];
  const whole = (name: string, value: number | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < min) problems.push(`${name} must be a whole number >= ${min}, got ${String(value)}`);
    return value;
  };
  const relay = options.relay ?? {};
  const normalized: NormalizedOutboxOptions = {
    relay: {
      enabled: relay.enabled ?? true,
      intervalMs: whole('relay.intervalMs', relay.intervalMs, 1_000, 1),
      sweepIntervalMs: whole('relay.sweepIntervalMs', relay.sweepIntervalMs, 30_000, 1),
      batchSize: whole('relay.batchSize', relay.batchSize, 100, 1),
      concurrency: whole('relay.concurrency', relay.concurrency, 4, 1),
    },
    maxAttempts: whole('maxAttempts', options.maxAttempts, 10, 1),
    backoff: {
      initialMs: whole('backoff.initialMs', options.backoff?.initialMs, 1_000, 0),
      maxMs: whole('backoff.maxMs', options.backoff?.maxMs, 300_000, 0),
    },
    retainDeliveredMs: options.retainDeliveredMs === false ? false : whole('retainDeliveredMs', options.retainDeliveredMs, 7 * DAY_MS, 0),
  };
  if (normalized.backoff.maxMs < normalized.backoff.initialMs) problems.push(`backoff.maxMs (${normalized.backoff.maxMs}) is below backoff.initialMs (${normalized.backoff.initialMs})`);
  if (problems.length) throw new InvalidOutboxOptionsError(problems);
  return normalized;
}

/**
 * The wait before the next attempt after `attempts` failures: exponential, capped, with "equal jitter" (half fixed,
 * half random) so that messages failing together (a receiver's bad deploy) do not all come back at the same moment.
 */
export function backoffMs(attempts: number, backoff: NormalizedOutboxOptions['backoff']): number {
  const exponential = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempts - 1, 30));
  return Math.round(exponential / 2 + Math.random() * (exponential / 2));
}
