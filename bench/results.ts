import type { EnvironmentFacts } from './environment.js';
import type { Measurement } from './measure.js';
import type { FanOutOutcome } from './migrations/fan-out-main.js';
import type { Workload } from './scenarios.js';

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

/** A scenario as latest.json records it (fields added later are optional: older files lack them). */
export interface ScenarioRecord {
  id: string;
  group: number;
  title: string;
  adapter: string;
  tenants: number;
  connectionBudget?: number;
  /** Absent: 'findOne' (files from before the relational workload). */
  workload?: Workload;
  /** Absent: '2-nest-mikro-express'. */
  baseline?: string;
}

/** Everything latest.json holds: the machine, the versions, the method and every raw figure. */
export interface BenchResults {
  date: string;
  finished: string;
  /** Wall time of the run up to its last save (the printed figure also counts stopping PostgreSQL). */
  wallS?: number;
  environment: EnvironmentFacts & { postgres: { version: string; maxConnections: number; embedded: boolean } };
  method: {
    quick: boolean;
    /** A full run (see BenchSettings.full); absent in older files, which were full unless quick. */
    full?: boolean;
    notFull?: string[];
    reps: number;
    durationS: number;
    warmupS: number;
    connections: number;
    insertShare: number;
    seededRows: number;
    /** The noise threshold applied (BenchSettings.noiseCv). */
    noiseCv?: number;
    /** Per tenant (and in the baseline's database): articles, authors, tags, page size. */
    relational?: { articles: number; authors: number; tags: number; tagsPerArticle: number; pageSize: number };
    /** Whether PostgreSQL's backends' memory could be read from /proc (PostgreSQL on this machine). */
    pgMemory?: boolean;
    /** Paired windows per side (each durationS / pairedWindows long, see paired.ts); absent or 0: separate windows. */
    pairedWindows?: number;
  };
  scenarios: ScenarioRecord[];
  measurements: Measurement[];
  migrations?: MigrationResults;
}

export const workloadOf = (s: ScenarioRecord): Workload => s.workload ?? 'findOne';
export const baselineOfRecord = (s: ScenarioRecord): string => s.baseline ?? '2-nest-mikro-express';
