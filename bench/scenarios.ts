/** The HTTP scenarios of issue #6: what each child server runs, and how the load is addressed. */

export type Adapter = 'express' | 'fastify';

/** What a child server builds; sent to it as JSON in BENCH_SERVER. */
export type ServerSpec =
  | { kind: 'bare-pg'; url: string }
  | { kind: 'nest-mikro'; adapter: Adapter; url: string }
  | { kind: 'library-static'; adapter: Adapter; url: string; secondaryUrl: string }
  | { kind: 'library-schema'; adapter: Adapter; url: string; tenants: number; injection: 'context' | 'request' }
  | { kind: 'library-database'; adapter: Adapter; url: string; tenants: number; maxOpenTenants: number; connectionsPerTenant: number };

export interface Scenario {
  /** Stable id used in filters, the JSON and the report, e.g. `4-schema-100-express`. */
  id: string;
  /** Issue #6 scenario number (1-7). */
  group: number;
  title: string;
  adapter: Adapter | 'node:http';
  /** Tenant ids the load picks from at random per request (none: the header is still sent, and ignored). */
  tenants: number;
  /** Database name pattern whose client connections are counted (LIKE). */
  databases: string;
  /** Scenario 6: the most connections the tenant pool may hold (maxOpenTenants x connectionsPerTenant). */
  connectionBudget?: number;
  spec: (pg: BenchDatabases) => ServerSpec;
}

/** Connection URLs of the databases prepared once per run (see databases.ts). */
export interface BenchDatabases {
  main: string;
  secondary: string;
  schemas: string;
  /** Database mode: URL of the server; each tenant's dbName comes from tenantDatabaseName(). */
  server: string;
}

/** Connections every single-database server may open: the same pool size everywhere, for a fair ceiling. */
export const POOL_MAX = 10;
export const CHURN = { tenants: 200, maxOpenTenants: 20, connectionsPerTenant: 2 } as const;
export const WARM = { tenants: 20, maxOpenTenants: 50, connectionsPerTenant: 2 } as const;
export const SCHEMA_TENANT_COUNTS = [10, 100, 1000] as const;
/** Tenants prepared as schemas: the largest schema scenario. */
export const MAX_SCHEMA_TENANTS = Math.max(...SCHEMA_TENANT_COUNTS);

export const tenantId = (n: number): string => `t${String(n).padStart(4, '0')}`;
export const tenantSchemaName = (id: string): string => `tenant_${id}`;
export const tenantDatabaseName = (id: string): string => `bench_db_${id}`;

export function allScenarios(): Scenario[] {
  const adapters: Adapter[] = ['express', 'fastify'];
  const list: Scenario[] = [
    { id: '1-bare-pg', group: 1, title: 'Ceiling: node:http + pg Pool', adapter: 'node:http', tenants: 0, databases: 'bench_main', spec: (pg) => ({ kind: 'bare-pg', url: pg.main }) },
  ];
  for (const adapter of adapters) {
    list.push({ id: `2-nest-mikro-${adapter}`, group: 2, title: `Baseline: NestJS + @mikro-orm/nestjs (${adapter})`, adapter, tenants: 0, databases: 'bench_main', spec: (pg) => ({ kind: 'nest-mikro', adapter, url: pg.main }) });
  }
  for (const adapter of adapters) {
    list.push({ id: `3-static-${adapter}`, group: 3, title: `Library, static contexts default + secondary (${adapter})`, adapter, tenants: 0, databases: 'bench_main', spec: (pg) => ({ kind: 'library-static', adapter, url: pg.main, secondaryUrl: pg.secondary }) });
  }
  for (const tenants of SCHEMA_TENANT_COUNTS) {
    for (const adapter of adapters) {
      list.push({ id: `4-schema-${tenants}-${adapter}`, group: 4, title: `Schema isolation, ${tenants} tenants (${adapter})`, adapter, tenants, databases: 'bench_schemas', spec: (pg) => ({ kind: 'library-schema', adapter, url: pg.schemas, tenants, injection: 'context' }) });
    }
  }
  list.push({
    id: '5-database-warm-express', group: 5, title: `Database isolation, warm: ${WARM.tenants} tenant databases, all open (express)`, adapter: 'express', tenants: WARM.tenants, databases: 'bench_db_%',
    spec: (pg) => ({ kind: 'library-database', adapter: 'express', url: pg.server, ...WARM }),
  });
  list.push({
    id: '6-database-churn-express', group: 6, title: `Database isolation, churn: ${CHURN.tenants} tenant databases, maxOpenTenants ${CHURN.maxOpenTenants} (express)`, adapter: 'express', tenants: CHURN.tenants, databases: 'bench_db_%',
    connectionBudget: CHURN.maxOpenTenants * CHURN.connectionsPerTenant,
    spec: (pg) => ({ kind: 'library-database', adapter: 'express', url: pg.server, ...CHURN }),
  });
  list.push({ id: '7-request-scoped-express', group: 7, title: "Opt-in injection: 'request', schema isolation, 10 tenants (express)", adapter: 'express', tenants: 10, databases: 'bench_schemas', spec: (pg) => ({ kind: 'library-schema', adapter: 'express', url: pg.schemas, tenants: 10, injection: 'request' }) });
  return list;
}

/** Scenarios selected by BENCH_SCENARIOS (exact ids or id prefixes); the express baseline always runs (ratios). */
export function selectScenarios(filter: string[] | undefined): Scenario[] {
  const all = allScenarios();
  if (!filter) return all;
  return all.filter((s) => s.id === '2-nest-mikro-express' || filter.some((f) => s.id === f || s.id.startsWith(f)));
}

/**
 * Repetition r runs the scenarios forwards on even r and backwards on odd r, each time rotated by a further step, so
 * no scenario always runs first, last, or right after the same neighbour: slow drifts of a shared machine spread
 * over all of them.
 */
export function orderForRepetition<T>(items: T[], rep: number): T[] {
  if (!items.length) return [];
  const base = rep % 2 === 1 ? [...items].reverse() : items;
  const shift = (Math.floor(rep / 2) * Math.max(1, Math.floor(items.length / 3))) % items.length;
  return [...base.slice(shift), ...base.slice(0, shift)];
}
