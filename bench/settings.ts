/**
 * Run settings: defaults sized so a full `npm run bench` finishes in ~15-20 minutes on a 2-core machine (it prints
 * an estimate first and its wall time at the end); every figure can be overridden from the environment, and
 * `--quick` makes a smoke run.
 */
export interface BenchSettings {
  quick: boolean;
  /**
   * A full run: not --quick, every scenario, HTTP and migrations. Only a full run writes bench/results/latest.*
   * (the committed report); any other run writes to bench/results/quick/ (git-ignored) unless BENCH_RESULTS_DIR says.
   */
  full: boolean;
  /** Why this run is not a full one (empty for a full run). */
  notFull: string[];
  /** Repetitions of the whole HTTP scenario list, each in a rotated order. */
  reps: number;
  /** Seconds of measured load per scenario and repetition. */
  durationS: number;
  /** Seconds of unmeasured load first (JIT, pools, PostgreSQL catalog caches). */
  warmupS: number;
  /**
   * Paired measurement (0: off): a scenario's measured window is split into this many windows, interleaved with as
   * many of its baseline (see paired.ts); the report's ratios come from there.
   */
  pairedWindows: number;
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
  /**
   * BENCH_POOL_IDLE_MS: `idleTimeoutMillis` of every bench server's pool (servers/orm-config.ts reads the same
   * variable; unset: the app's own, schema isolation's 10 min for its tenant pool, pg's 10 s elsewhere). Set, the
   * servers differ from a default app's, so the run is not a full one.
   */
  poolIdleMs?: number;
  /**
   * BENCH_POOL_MAX_LIFETIME_S: pg's `maxLifetimeSeconds` for every bench server's pool (servers/orm-config.ts): each
   * connection is closed after that long, so a backend's catalog caches cannot grow past what it touches in that
   * time. Unset: pg's default (0, no limit). Set, the run is not a full one.
   */
  poolMaxLifetimeS?: number;
  /** Where latest.md / latest.json go. */
  resultsDir: string;
  /**
   * A scenario is "noisy, not a result" when the coefficient of variation (sample standard deviation / mean) of its
   * per-repetition req/s ratios to its baseline exceeds this (BENCH_NOISE_CV, default 0.10), or when it ran once.
   */
  noiseCv: number;
}

/** Default noise threshold: see BenchSettings.noiseCv. */
export const NOISE_CV = 0.1;

/** Same request mix in every scenario: this share of requests is a small insert, the rest a findOne by PK. */
export const INSERT_SHARE = 0.1;
/** Rows seeded into every `item` table; GETs pick an id uniformly among them (the relational volume: entities.ts). */
export const SEEDED_ROWS = 100;

/**
 * The fewest requests a paired window should hold (paired.ts windowsFor). A window counts only the requests that
 * finished inside it: at 1 s a relational window (~10 ms per request, 50 connections) held ~100.
 */
export const MIN_WINDOW_REQUESTS = 600;

/** The committed report's folder, and where every other run writes (git-ignored). */
export const RESULTS_DIR = new URL('./results/', import.meta.url).pathname;
export const QUICK_RESULTS_DIR = new URL('./results/quick/', import.meta.url).pathname;

/** What a full run needs at least (more repetitions or longer windows still make a full run). */
const FULL = { reps: 3, durationS: 6, warmupS: 2, pairedWindows: 6, fanOutTenants: [200, 1000], cliSchemas: 20 } as const;

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
  const scenarioFilter = list('BENCH_SCENARIOS');
  const shape = {
    reps: num('BENCH_REPS', quick ? 1 : FULL.reps),
    durationS: num('BENCH_DURATION', quick ? 3 : FULL.durationS),
    warmupS: num('BENCH_WARMUP', quick ? 1 : FULL.warmupS),
    connections: num('BENCH_CONNECTIONS', 50),
    pairedWindows: num('BENCH_PAIRED_WINDOWS', quick ? 2 : FULL.pairedWindows),
    migrations: env.BENCH_MIGRATIONS !== '0',
    http: env.BENCH_HTTP !== '0',
    fanOutTenants: (list('BENCH_FANOUT_TENANTS') ?? (quick ? ['50'] : FULL.fanOutTenants.map(String))).map(Number),
    fanOutConcurrency: (list('BENCH_FANOUT_CONCURRENCY') ?? (quick ? ['1', '4'] : ['1', '2', '4', '8'])).map(Number),
    cliSchemas: num('BENCH_CLI_SCHEMAS', quick ? 3 : FULL.cliSchemas),
    poolIdleMs: env.BENCH_POOL_IDLE_MS ? num('BENCH_POOL_IDLE_MS', 0) : undefined,
    poolMaxLifetimeS: env.BENCH_POOL_MAX_LIFETIME_S ? num('BENCH_POOL_MAX_LIFETIME_S', 1) : undefined,
  };
  const notFull = [
    quick && '--quick',
    scenarioFilter && 'BENCH_SCENARIOS',
    !shape.migrations && 'BENCH_MIGRATIONS=0',
    !shape.http && 'BENCH_HTTP=0',
    shape.reps < FULL.reps && `${shape.reps} repetition(s)`,
    shape.durationS < FULL.durationS && `${shape.durationS} s windows`,
    shape.warmupS < FULL.warmupS && `${shape.warmupS} s warm-up`,
    shape.pairedWindows < FULL.pairedWindows && `${shape.pairedWindows} paired window(s)`,
    !FULL.fanOutTenants.every((n) => shape.fanOutTenants.includes(n)) && 'fewer fan-out tenant counts',
    shape.cliSchemas < FULL.cliSchemas && `${shape.cliSchemas} CLI schemas`,
    shape.poolIdleMs !== undefined && `BENCH_POOL_IDLE_MS=${shape.poolIdleMs}`,
    shape.poolMaxLifetimeS !== undefined && `BENCH_POOL_MAX_LIFETIME_S=${shape.poolMaxLifetimeS}`,
  ].filter((reason): reason is string => typeof reason === 'string');
  const full = notFull.length === 0;
  return {
    quick,
    full,
    notFull,
    ...shape,
    scenarioFilter,
    resultsDir: env.BENCH_RESULTS_DIR || (full ? RESULTS_DIR : QUICK_RESULTS_DIR),
    noiseCv: num('BENCH_NOISE_CV', NOISE_CV),
  };
}
