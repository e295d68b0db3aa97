import type { EnvironmentFacts } from './environment.js';
import type { Measurement } from './measure.js';
import type { FanOutOutcome } from './migrations/fan-out-main.js';

/** One fan-out run: N schemas at one concurrency. */
export interface FanOutResult extends FanOutOutcome {
  concurrency: number;
  msPerTenant: number;
}

/** MikroORM's CLI started once per schema. */
export interface CliLoopResult {
  schemas: number;
  totalMs: number;
  msPerSchema: number;
  perSchemaMs: number[];
}

export interface MigrationResults {
  migrationsPerTenant: number;
  fanOut: FanOutResult[];
  cli: CliLoopResult;
}

/** Everything latest.json holds: the machine, the versions, the method and every raw figure. */
export interface BenchResults {
  date: string;
  finished: string;
  environment: EnvironmentFacts & { postgres: { version: string; maxConnections: number; embedded: boolean } };
  method: { quick: boolean; reps: number; durationS: number; warmupS: number; connections: number; insertShare: number; seededRows: number };
  scenarios: { id: string; group: number; title: string; adapter: string; tenants: number; connectionBudget?: number }[];
  measurements: Measurement[];
  migrations?: MigrationResults;
}
