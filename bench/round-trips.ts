/**
 * `node --import @swc-node/register/esm-register bench/round-trips.ts [requests]`: what one request of each bench
 * path costs in PostgreSQL round trips, on plain @mikro-orm/nestjs, schema isolation (10 tenants) and on shared tables (scenario 10) with the ORM
 * filter alone and with row-level security. Each server runs in this process, one after the other; every
 * `pg.Client#query` call (one round trip: the pg driver sends a parameterised query as one flight and waits for its
 * answer) is counted, requests are sent one at a time, and the statements of one request are printed. Also prints
 * the median latency of those sequential requests (no concurrency: indicative only on a shared machine). Starts its
 * own PostgreSQL (embedded, or DATABASE_URL) and prepares bench_main and bench_shared like `npm run bench`. Not part
 * of `npm test` or `npm run bench`.
 */
import 'reflect-metadata';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { usePostgres } from '../scripts/embedded-postgres.js';
import { prepareDatabases } from './databases.js';
import { SHARED_TABLE_TENANTS, type ServerSpec, tenantId } from './scenarios.js';
import type { RunningServer } from './servers/protocol.js';

const requests = Number(process.argv[2] ?? 200);
const SCHEMA_TENANTS = 10;
const log = (line: string): void => void process.stdout.write(`${line}\n`);

/** Every query the pg clients of this process send, in order (MikroORM's driver may have its own copy of pg). */
const sent: string[] = [];
const mikroOrmPg = createRequire(fileURLToPath(import.meta.resolve('@mikro-orm/postgresql')))('pg') as typeof pg;
for (const Client of new Set([pg.Client, mikroOrmPg.Client])) {
  const originalQuery = Client.prototype.query;
  Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    sent.push(typeof first === 'string' ? first : (first?.text ?? '?'));
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof Client.prototype.query;
}

interface PathFigures {
  path: string;
  roundTrips: number;
  statements: string[];
  medianMs: number;
}

async function start(spec: ServerSpec): Promise<RunningServer> {
  const { startNestApp } = await import('./servers/nest-app.js');
  if (spec.kind === 'nest-mikro') {
    const { nestMikroModule } = await import('./servers/nest-mikro.module.js');
    return startNestApp(nestMikroModule(spec.url), 'express');
  }
  if (spec.kind !== 'library-table' && spec.kind !== 'library-schema') throw new Error(`not measured here: ${spec.kind}`);
  const { libraryModule } = await import('./servers/library.module.js');
  return startNestApp(libraryModule(spec), 'express');
}

async function measurePaths(port: number, tenants: number): Promise<PathFigures[]> {
  const paths: { path: string; request: (tenant: string, i: number) => Promise<Response> }[] = [
    { path: 'GET /items/:id', request: (tenant, i) => fetch(`http://127.0.0.1:${port}/items/${1 + (i % 100)}`, { headers: { 'x-tenant-id': tenant } }) },
    {
      path: 'POST /items',
      request: (tenant) =>
        fetch(`http://127.0.0.1:${port}/items`, { method: 'POST', headers: { 'x-tenant-id': tenant, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'round trips', tenant }) }),
    },
    { path: 'GET /articles?page=N', request: (tenant, i) => fetch(`http://127.0.0.1:${port}/articles?page=${1 + (i % 10)}`, { headers: { 'x-tenant-id': tenant } }) },
  ];
  const out: PathFigures[] = [];
  for (const { path, request } of paths) {
    const counts: number[] = [];
    const times: number[] = [];
    let statements: string[] = [];
    for (let i = -20; i < requests; i++) {
      const tenant = tenantId(tenants ? 1 + (Math.abs(i) % tenants) : 1);
      const before = sent.length;
      const started = performance.now();
      const response = await request(tenant, Math.abs(i));
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`${path} answered ${response.status}`);
      if (i < 0) continue; // warm-up
      times.push(performance.now() - started);
      counts.push(sent.length - before);
      if (i === 0) statements = sent.slice(before);
    }
    const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
    const roundTrips = sorted(counts)[Math.floor(counts.length / 2)] as number;
    if (sorted(counts)[0] !== sorted(counts).at(-1)) log(`  note: ${path} sent ${sorted(counts)[0]}..${sorted(counts).at(-1)} queries per request (median ${roundTrips})`);
    out.push({ path, roundTrips, statements, medianMs: sorted(times)[Math.floor(times.length / 2)] as number });
  }
  return out;
}

async function main(): Promise<void> {
  const postgres = await usePostgres({ log: () => undefined });
  try {
    const databases = await prepareDatabases(postgres.url, { schemas: SCHEMA_TENANTS, databases: 0, shared: SHARED_TABLE_TENANTS }, () => undefined);
    const servers: { name: string; spec: ServerSpec; tenants: number }[] = [
      { name: 'plain @mikro-orm/nestjs (baseline)', spec: { kind: 'nest-mikro', adapter: 'express', url: databases.main }, tenants: 0 },
      { name: 'schema isolation', spec: { kind: 'library-schema', adapter: 'express', url: databases.schemas, tenants: SCHEMA_TENANTS, injection: 'context' }, tenants: SCHEMA_TENANTS },
      { name: 'shared tables, ORM filter alone', spec: { kind: 'library-table', adapter: 'express', url: databases.shared, tenants: SHARED_TABLE_TENANTS, rowLevelSecurity: false }, tenants: SHARED_TABLE_TENANTS },
      { name: 'shared tables, ORM filter + row-level security', spec: { kind: 'library-table', adapter: 'express', url: databases.sharedApp, tenants: SHARED_TABLE_TENANTS, rowLevelSecurity: true }, tenants: SHARED_TABLE_TENANTS },
    ];
    const table: string[] = ['| Server | Path | round trips per request | median ms (sequential) |', '| --- | --- | ---: | ---: |'];
    for (const { name, spec, tenants } of servers) {
      const server = await start(spec);
      try {
        const figures = await measurePaths(server.port, tenants);
        log(`\n## ${name}`);
        for (const f of figures) {
          table.push(`| ${name} | ${f.path} | ${f.roundTrips} | ${f.medianMs.toFixed(2)} |`);
          log(`${f.path}: ${f.roundTrips} round trips, e.g.`);
          for (const sql of f.statements) log(`    ${sql.replace(/\s+/g, ' ').slice(0, 220)}`);
        }
      } finally {
        await server.stop();
      }
    }
    log(`\n${table.join('\n')}`);
  } finally {
    await postgres.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
