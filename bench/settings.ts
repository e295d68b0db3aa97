/**
 * Run settings: defaults sized so a full `npm run bench` finishes in ~15 minutes on a 2-core machine; every
 * figure can be overridden from the environment, and `--quick` makes a smoke run of a minute or two.
 */
export interface BenchSettings {
  quick: boolean;
  /** Repetitions of the whole HTTP scenario list, each in a rotated order. */
  reps: number;
  /** Seconds of measured load per scenario and repetition. */
  durationS: number;
  /** Seconds of unmeasured load first (JIT, pools, PostgreSQL catalog caches). */
  warmupS: number;
  /** Concurrent HTTP connections of the load generator. */
  connections: number;
  /** Scenario ids to run (BENCH_SCENARIOS=2-express,4-schema-1000-fastify; a prefix like `4-` matches a group). */
  scenarioFilter?: string[];
  /** Skip the migration benchmark (BENCH_MIGRATIONS=0) or the HTTP ones (BENCH_HTTP=0). */
  migrations: boolean;
  http: boolean;
  /** Tenant counts of the migration fan-out, its concurrencies, and schemas of the per-schema CLI loop. */
  fanOutTenants: number[];
  fanOutConcurrency: number[];
  cliSchemas: number;
  /** Where latest.md / latest.json go. */
  resultsDir: string;
}

/** Same request mix in every scenario: this share of requests is a small insert, the rest a findOne by PK. */
export const INSERT_SHARE = 0.1;
/** Rows seeded into every `item` table; GETs pick an id uniformly among them. */
export const SEEDED_ROWS = 100;

export function readSettings(argv: string[], env: NodeJS.ProcessEnv): BenchSettings {
  const quick = argv.includes('--quick') || env.BENCH_QUICK === '1';
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got '${raw}'`);
    return value;
  };
  const list = (name: string): string[] | undefined =>
    env[name] ? env[name].split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  return {
    quick,
    reps: num('BENCH_REPS', quick ? 1 : 3),
    durationS: num('BENCH_DURATION', quick ? 3 : 6),
    warmupS: num('BENCH_WARMUP', quick ? 1 : 2),
    connections: num('BENCH_CONNECTIONS', 50),
    scenarioFilter: list('BENCH_SCENARIOS'),
    migrations: env.BENCH_MIGRATIONS !== '0',
    http: env.BENCH_HTTP !== '0',
    fanOutTenants: (list('BENCH_FANOUT_TENANTS') ?? (quick ? ['50'] : ['200', '1000'])).map(Number),
    fanOutConcurrency: (list('BENCH_FANOUT_CONCURRENCY') ?? (quick ? ['1', '4'] : ['1', '2', '4', '8'])).map(Number),
    cliSchemas: num('BENCH_CLI_SCHEMAS', quick ? 3 : 20),
    resultsDir: env.BENCH_RESULTS_DIR ?? new URL('./results/', import.meta.url).pathname,
  };
}
