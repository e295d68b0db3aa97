import { type BenchResults, type ScenarioRecord, baselineOfRecord, workloadOf } from './results.js';
import { MIN_WINDOW_REQUESTS, NOISE_CV } from './settings.js';
import { MIN_REQUESTS, delta, medians, noiseOf, ratio } from './stats.js';
import { evaluateTargets, resultCell } from './targets.js';

const f = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const signed = (value: number, digits = 0): string => (Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(digits)}` : 'n/a');
const pct = (value: number): string => (Number.isFinite(value) ? `${(value * 100).toFixed(0)}%` : 'n/a');

/** Wall time as the run prints it: `14 min 05 s`. */
export function formatWall(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s` : `${s} s`;
}

/** bench/results/latest.md: the human report (latest.json holds every raw figure). */
export function renderMarkdown(results: BenchResults): string {
  const { environment: env, method } = results;
  const threshold = method.noiseCv ?? NOISE_CV;
  const m = results.measurements;
  const ran = results.scenarios.filter((s) => medians(m, s.id).reps > 0);
  const lines: string[] = [];
  const push = (...more: string[]): void => void lines.push(...more);

  // the noise verdict first: a run whose repetitions disagree is not presented as a result
  const fastifyBaseline = (s: ScenarioRecord): string => baselineOfRecord(s).replace(/-express$/, '-fastify');
  const comparisons = ran.map((s) => ({ s, ref: baselineOfRecord(s), spread: noiseOf(m, s.id, baselineOfRecord(s), threshold) }));
  for (const s of ran) {
    if (s.adapter === 'fastify' && m.some((x) => x.scenario === fastifyBaseline(s))) comparisons.push({ s, ref: fastifyBaseline(s), spread: noiseOf(m, s.id, fastifyBaseline(s), threshold) });
  }
  const noisy = comparisons.filter((c) => c.spread.noisy);
  const full = method.full ?? !method.quick;
  push('# nestjs-mikro-tenancy benchmarks', '');
  if (noisy.length) {
    push(
      `> **Noisy run, not a result.** ${noisy.length} of ${comparisons.length} comparisons have repetitions that disagree beyond the threshold (coefficient of variation of the per-repetition req/s ratios > ${pct(threshold)}), ran once, or completed too few requests: ${noisy.map((c) => `${c.s.id} vs ${c.ref} (${c.spread.reason})`).join(', ')}. The figures below are for digging, not for quoting; rerun on a quiet machine.`,
      '',
    );
  }
  if (!full) push(`> **Not a full run**${method.notFull?.length ? ` (${method.notFull.join(', ')})` : method.quick ? ' (--quick)' : ''}: only a full \`npm run bench\` writes bench/results/latest.md.`, '');
  push(
    `Run ${results.date} → ${results.finished}${results.wallS ? ` (${formatWall(results.wallS)} from start to this report; the run prints its total wall time, stopping PostgreSQL included)` : ''}${method.quick ? ' (**quick smoke run**, not representative)' : ''}. Produced by \`npm run bench\`; raw figures of every repetition in \`latest.json\`.`,
    '',
    '## Machine and versions',
    '',
    `- ${env.cpuModel}, ${env.cores} cores, ${env.ramGb} GB RAM, ${env.os}`,
    `- Node ${env.node}; PostgreSQL ${env.postgres.version} (${env.postgres.embedded ? 'embedded, fsync off' : 'DATABASE_URL'}, max_connections ${env.postgres.maxConnections})`,
    `- ${Object.entries(env.versions).map(([name, version]) => `${name} ${version}`).join(', ')}`,
    '',
    '## Method',
    '',
    `- Load: autocannon (in the orchestrator process) against 127.0.0.1, ${method.connections} connections, ${method.warmupS} s warm-up (with a baseline beside it, in turns of about 1 s with the baseline's, so neither idles through the other's) then ${method.durationS} s measured, per scenario and repetition. Before the warm-up, each server's answers are checked (the first and the last tenant get their own rows; relational: every author and tag of a page carries the tenant's marker).`,
    `- findOne workload (scenarios 1-7, 9 and 10 findOne): ${f((1 - method.insertShare) * 100)}% \`GET /items/:id\` (findOne by primary key, id random among ${method.seededRows} seeded rows), ${f(method.insertShare * 100)}% \`POST /items\` (a small insert, flushed); each request carries \`x-tenant-id\` of a tenant picked at random (ignored where there are no tenants).`,
  );
  const rel = method.relational;
  if (rel) {
    push(
      `- Relational workload (scenarios 8, 9 and 10 relational): \`GET /articles?page=N\` (N random among the ${Math.floor(rel.articles / rel.pageSize)} full pages): \`em.findAndCount(Article, {}, { populate: ['author', 'tags'], orderBy: { publishedAt: 'desc', id: 'desc' }, limit: ${rel.pageSize} })\`, that is the page with its author (m:1, joined under MikroORM's default \`balanced\` strategy), the tags (m:n, one query through the pivot table) and a count: 3 queries, ${rel.pageSize} articles serialised per request. Each tenant (and the baseline's one database) holds ${rel.articles} articles, ${rel.authors} authors, ${rel.tags} tags, ${rel.tagsPerArticle} tags per article. Read-only, so the volume stays the same.`,
      '- Shared tables (scenario 10, `isolation: \'table\'`): one database whose tables hold the rows of all 100 tenants, with the DDL the library generates (a `tenant_id` column, indexed; row-level security policies forced on every table, the pivot\'s included); `item` alone has the primary key (tenant_id, id), so every tenant has the item ids the findOne load asks for (the entity\'s key stays `id`). Each workload runs with the ORM filter plus row-level security, served as a role that is neither superuser nor BYPASSRLS (each statement outside a transaction gets a short one: begin, `set_config`, the query, commit), and with the ORM filter alone (`rowLevelSecurity: false`, connected as the server\'s superuser, which no policy binds). Its check also posts an item as the first tenant and expects 404 for it as the last.',
      '- By hand (scenario 9): plain `@mikro-orm/nestjs` with its request context off and a Nest middleware that reads `x-tenant-id`, answers 404 for an unknown tenant and calls `RequestContext.create(orm.em, next, { schema })`. It is made correct: `fork({ schema })` alone qualifies only the root table of a query (joined and pivot tables would resolve through `search_path`), so its entities are wildcard-schema (`schema: \'*\'`). It has none of the library\'s other layers (fail-closed `search_path`, id rules, a tenant store and cache, schema ownership checks). Schema mode by hand runs at 100 tenants (both workloads) and at 1000 (findOne). Database mode by hand (warm): one MikroORM per tenant database (20, 2 connections each, as scenario 5), all opened at boot, and a middleware calling `RequestContext.create(tenantOrm.em, next)`; no bound on open tenants, no lease, no connection budget.',
    );
  }
  if (results.scenarios.some((s) => s.group === 11)) push(SERVERS_METHOD);
  push(
    '- Every scenario\'s server is its own process (forked, started fresh for each measurement). Same entities, same pool size (10) for every single-database server; database mode uses 2 connections per tenant.',
    `- ${method.reps} repetition(s); each repetition runs all scenarios, forwards or backwards and rotated, so the order alternates. Figures are **medians over repetitions**; ratios are taken against the same workload on plain @mikro-orm/nestjs (scenario 2 or 8, express unless said) **of the same repetition**, then the median is reported.`,
    ...(method.pairedWindows
      ? [
          `- **Paired windows.** Each scenario that has a baseline (plain @mikro-orm/nestjs, same workload and same adapter; the ceiling against the express baseline) is measured **interleaved with it**: its ${method.durationS} s window is split into ${method.pairedWindows} windows of ${f(method.durationS / method.pairedWindows, 1)} s (fewer and longer, down to 2, when a window would hold under ${MIN_WINDOW_REQUESTS} requests at the slower side's warm-up rate: the relational workload), each next to one of the baseline's, in ABBA order (baseline, scenario, scenario, baseline...). The baseline's server is booted fresh next to the scenario's, checked and warmed up the same way (a baseline kept running for minutes measured 10-20% faster against freshly booted scenarios), and idles while the scenario is loaded (its connections are left out of the scenario's PG figures). The scenario's figures are its side of these windows (p50 and p99 over all of the side's 2xx requests, pooled across its windows, from each response's own time at sub-millisecond resolution; autocannon's own percentiles are whole milliseconds of one window); its req/s, latency and CPU ratios against that baseline come from both sides. Both sides see the same seconds of a shared machine, where windows minutes apart saw the same server run at half or double the speed. Other comparisons (fastify against express, the by-hand peer against the library) take separate windows of the same repetition.`,

        ]
      : []),
    '- Server CPU: `process.cpuUsage()` of the server process (all threads) over the measured window ÷ requests completed. Node RSS: at the end of the measured window, and the server\'s `maxRSS` (boot included; the TypeScript loader adds a constant ~100+ MB to every server). Peak PG connections: client backends on the scenario\'s databases, sampled every 100 ms.',
    `- PostgreSQL memory: the private resident memory (\`RssAnon\` of \`/proc/<pid>/status\`: catalog, relation and plan caches, work memory; shared buffers excluded) of the scenario's client backends (\`pg_stat_activity\`), summed, at the end of the measured window and at its highest (sampled every 500 ms).${method.pgMemory === false ? ' **Not readable in this run** (PostgreSQL not on this machine).' : ''}`,
    `- **Noise rule.** Each comparison's per-repetition req/s ratios must agree: when their coefficient of variation (sample standard deviation / mean) is above ${pct(threshold)} (\`BENCH_NOISE_CV\`), when the comparison ran once, or when a repetition of either side completed fewer than ${MIN_REQUESTS} requests, it is marked **noisy, not a result** in the tables and targets, and the whole run is flagged at the top.`,
    '- Noise: a shared 2-core machine; the load generator, PostgreSQL and the server compete for the same cores, and other work (test suites) ran at times. Compare ratios, not absolute numbers.',
  );

  const table = (title: string, rows: ScenarioRecord[], refOf: (s: ScenarioRecord) => string, refName: string): void => {
    const shown = rows.filter((s) => m.some((x) => x.scenario === refOf(s)));
    if (!shown.length) return;
    push(
      '',
      `## ${title}`,
      '',
      `| # | Scenario | req/s | p50 ms | p99 ms | CPU µs/req | errors | req/s vs ${refName} | p99 vs ${refName} | CPU µs vs ${refName} | spread of req/s ratios |`,
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const s of shown) {
      const med = medians(m, s.id);
      const ref = refOf(s);
      const spread = noiseOf(m, s.id, ref, threshold);
      const spreadCell = s.id === ref && !spread.noisy ? '(reference)' : spread.noisy ? `**noisy, not a result** (${spread.reason})` : `CV ${pct(spread.cv)}, max/min ${f(spread.maxOverMin, 2)}`;
      push(
        `| ${s.group} | ${s.title} | ${f(med.reqPerSec)} | ${f(med.p50Ms, 1)} | ${f(med.p99Ms, 1)} | ${f(med.cpuUsPerReq)} | ${med.errors} | ${f(ratio(m, s.id, ref, 'reqPerSec'), 2)}x | ${f(ratio(m, s.id, ref, 'p99Ms'), 2)}x | ${signed(delta(m, s.id, ref, 'cpuUsPerReq'))} | ${spreadCell} |`,
      );
    }
  };
  table('findOne scenarios (medians)', ran.filter((s) => workloadOf(s) === 'findOne'), (s) => baselineOfRecord(s), 'baseline (2, express)');
  table('Relational scenarios (medians)', ran.filter((s) => workloadOf(s) === 'relational'), (s) => baselineOfRecord(s), 'baseline (8, express)');
  table(
    'Fastify scenarios against the fastify baseline of their workload (same repetition)',
    ran.filter((s) => s.adapter === 'fastify' && s.id !== fastifyBaseline(s)),
    fastifyBaseline,
    'fastify baseline',
  );

  push(
    '',
    '## Memory (medians)',
    '',
    '| Scenario | Node RSS MB, end of window | Node peak RSS MB | peak PG conns | PG backends\' private memory MB, end of window | highest | per connection, end |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const s of ran) {
    const med = medians(m, s.id);
    push(`| ${s.title} | ${f(med.rssEndMb)} | ${f(med.peakRssMb)} | ${f(med.peakPgConnections)}${s.connectionBudget ? ` (budget ${s.connectionBudget})` : ''} | ${f(med.pgBackendsMb)} | ${f(med.pgBackendsPeakMb)} | ${f(med.pgBackendsMb / med.peakPgConnections, 1)} |`);
  }

  const mig = results.migrations;
  if (mig) {
    push(
      '',
      `## Migrations (${mig.migrationsPerTenant}-migration tenant set, schema mode)`,
      '',
      'Library: `TenantLifecycle.migrate({ concurrency })` over N new schemas (each run on a freshly created database, in its own process; the time excludes the Nest boot, shown apart). CLI: `mikro-orm migration:up --schema <s>` started once per schema (node + the CLI entry directly, so without npx\'s own start-up), on schemas created beforehand.',
      '',
      '| Tenants | Concurrency | total ms | ms per tenant | boot ms | speed-up vs concurrency 1 |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const run of mig.fanOut) {
      const base = mig.fanOut.find((x) => x.tenants === run.tenants && x.concurrency === 1);
      push(`| ${run.tenants} | ${run.concurrency} | ${run.migrateMs} | ${run.msPerTenant} | ${run.bootMs} | ${base ? `${f(base.migrateMs / run.migrateMs, 2)}x` : 'n/a'} |`);
    }
    push('', `MikroORM CLI loop: ${mig.cli.schemas} schemas in ${mig.cli.totalMs} ms, **${mig.cli.msPerSchema} ms per schema** (median single call ${f([...mig.cli.perSchemaMs].sort((a, b) => a - b)[Math.floor(mig.cli.perSchemaMs.length / 2)] ?? Number.NaN)} ms).`);
  }
  push(
    '',
    '## Targets',
    '',
    `Ratios against the same endpoint on plain @mikro-orm/nestjs in the same repetition. A target whose comparison is noisy (see the noise rule) is not marked met or not met.`,
    '',
    '| Target | Measured | Result |',
    '| --- | --- | --- |',
  );
  for (const t of evaluateTargets(results)) push(`| ${t.target} | ${t.measured} | ${resultCell(t)} |`);
  push('', '## Notes', '', ...NOTES, '');
  return lines.join('\n');
}

/** Scenario 11's method line (issue 17), shown when it ran. */
const SERVERS_METHOD =
  '- Servers (scenario 11, issue 17): schema isolation, 30 tenants, both workloads (express), once all on the bench server (no `tenancy.servers`: the app as it is with one server) and once in blocks of 10 on three PostgreSQL servers (`tenancy.servers` a, b, c; each tenant record names its server; one pool of 10 per server, so up to 30 connections against 10). The three are clusters on **this one machine**, sharing its cores with the app and the load generator: the ratio three/one (same repetition, in the Targets) shows what routing over servers and the per-server pools cost, not added capacity. Its check asks every tenant (each server holds only its own tenants\' schemas, so a request routed to the wrong server fails). PG connections and memory count the first server only.';

/**
 * Findings from profiles and earlier runs, kept here so the report regenerates with them. They are not produced by
 * the run above: update them when a full run changes what they say.
 */
const NOTES: string[] = [
  '_Findings from profiles and earlier full runs (2026-11-21 to 2026-12-02; docs/performance.md, Last full runs, has each run); the figures above are this run\'s._',
  '',
  '- **Noise.** A shared 2-core machine (another engineer\'s test suites ran during some runs): absolute figures swing by up to 2x between repetitions (per-repetition figures in latest.json). Ratios are taken within one repetition, yet with 3 repetitions a single ratio is only good to roughly ±10-15%; the express-vs-fastify spread of the same scenario shows that scale. The noise rule above now marks such comparisons instead of reporting them.',
  '- **What bounds request throughput.** MikroORM itself: a findOne + serialisation through any EntityManager costs ~300-600 µs of server CPU here (the machine\'s speed varies by 2x) against ~50-120 µs for the node:http + pg ceiling (scenario 1 vs 2). What this library adds on top of @mikro-orm/nestjs is a middleware (resolve, AsyncLocalStorage scope; synchronous for a cached tenant), a forwarding function per tenant EntityManager method call and the lazy fork: 6-10 µs of library frames per findOne in the profiles of 2026-12-01. The by-hand peer (scenario 9), which has none of these, measures within the same noise.',
  '- **Profiled and fixed: the global interceptor.** The first full run measured +30 to +90 µs per request already with static contexts only (scenario 3: 0.85x express) and 0.83x at 10 tenants. CPU profiles of scenarios 2 and 3 (`BENCH_CPU_PROF=<scenario> npm run bench`, 8 s each) put the difference in RxJS (334 ms vs 4 ms of self time) and garbage collection (718 ms vs 235 ms): a global interceptor the module registered (to map database outages to 503) made Nest run its RxJS pipeline on every request, where an app without interceptors has none. The 503 mapping moved to the PostgreSQL pools (errors become `DatabaseConnectionFailure`) plus an exception filter that only catches that class, so successful requests pay nothing; the tenant lease moved out of an interceptor into the middleware since (2026-12-01).',
  '- **What was left of the routing cost (2026-11-21: 0.91x and +36-43 µs at 10-100 tenants on express).** A profile then showed ~8 µs per request of library frames (tenant EM proxy, id validation, the `close` listener, middleware, directory, pool guards) and the rest in MikroORM\'s fork and GC. Since then a cached tenant is not re-validated, the middleware has no async hop on a cache hit, fork options are made once per tenant, the proxy keeps one forwarder per method, and no global guard or interceptor runs.',
  '- **Schema count.** 10, 100 and 1000 tenants share one pool of 10 connections; Node-side RSS does not grow with the tenant count. Throughput and p99 do degrade at 1000 tenants: every pooled PostgreSQL connection builds catalog and plan caches per schema it touches (schema-qualified SQL is planned per schema), so with requests spread at random over 1000 schemas the database does more work per query. The Memory table\'s PostgreSQL column measures that cache; `npm run bench:scale` takes it to 10,000 schemas.',
  '- **The relational workload** runs 3 queries per request (page with the joined author, tags through the pivot, count) and serialises 20 articles with their relations, so per-request ORM work is several times findOne\'s and a fixed per-request routing cost weighs less in the ratio; at 1000 schemas each connection caches 5 relations (and their indexes) per schema instead of 1.',
  '- **Database isolation, warm (scenarios 5, 8 database):** 20 ORMs, one per tenant database, each with its own pool of 2; queries spread over 40 connections instead of 10. A handler keeps its tenant leased until it answers (the middleware, no interceptor). The by-hand peer with one MikroORM per database measures 0.83-0.87x in the same runs: most of the gap is 20 small pools, not the routing.',
  '- **Database churn (scenario 6): a pool wedge found by this benchmark, fixed.** With 200 tenant databases and `maxOpenTenants` 20, ~90% of requests need another tenant\'s ORM, so throughput is bounded by opening and closing ORMs (MikroORM.init + connect ≈ 10 ms each). The first run had 100 errors: a request gave its tenant back when the socket closed, also when the client disconnected mid-request (autocannon ending its warm-up), so the ORM could be evicted and closed under the running handler; Kysely then kept a pg client, `orm.close()` never resolved and, evictions running one at a time, no other tenant was opened again. Now a handler holds its tenant until it finishes (regression test: test/reliability/lease-on-disconnect.rel-spec.ts) and a hung close frees its slot after 10 s. The connection budget always held.',
  '- **Shared tables (scenario 10; partial runs of 2026-11-30 on a busy shared machine, every comparison noisy, so indicative).** With row-level security, MikroORM\'s `sessionContext: \'transaction\'` runs each statement outside a transaction in a short one (begin, `set_config`, the statement, commit): 4 round trips per findOne instead of 1, 12 per relational page instead of 3, its parallel count and page each holding a pooled connection for 4 (`bench/round-trips.ts`). That is what bounds the ratio (0.57-0.69x findOne, 0.53-0.71x relational in three runs; server CPU per request 1.9-2.3x and ~1.45x the baseline\'s): CPU profiles put the extra in socket writes to PostgreSQL, MikroORM\'s transaction path, Kysely and pg, while PostgreSQL\'s own cost of the policies is small (EXPLAIN ANALYZE: +0.01 ms on the findOne, +0.5 ms on the pivot query, whose policy checks both linked rows). The ORM filter alone measured 0.73-1.32x (findOne) and 0.93-1.11x (relational), CPU +4-34% per request: the filter in MikroORM\'s query building plus the library\'s routing. Details: docs/performance.md, Shared tables.',
  '- **Request-scoped injection (scenario 7)** makes Nest build the controller and its dependencies per request; it is opt-in and expected to be slower (~0.6x the baseline, ~0.75x context injection).',
  '- **Migrations.** The fan-out reuses one ORM per worker and applies each tenant\'s migrations in one transaction behind an advisory lock, against ~1 s per schema for a fresh `mikro-orm` CLI process (Node start, TypeScript loader, discovery, connect). The per-tenant cost grows with the number of schemas in the database (2026-11-21, 3-migration set: 13 ms at 200, 23 ms at 1000 at concurrency 1: catalog lookups grow with the catalog), and concurrency only pays once that database-side work dominates (1000 schemas: 1.9x at 4; at 200 schemas the single Node thread is the bound). The set has a 4th migration (the relational tables) since issue #18, so per-tenant times are not comparable with runs before it.',
];
