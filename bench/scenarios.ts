/** The HTTP scenarios (issue #6, extended by issue #18): what each child server runs, and how the load is addressed. */

export type Adapter = 'express' | 'fastify';

/**
 * What the load asks for. findOne: 90% `GET /items/:id` + 10% `POST /items`. relational: `GET /articles?page=N`, a
 * page of 20 articles with their author (m:1, joined) and tags (m:n, populated) plus the total count.
 */
export type Workload = 'findOne' | 'relational';

/** What a child server builds; sent to it as JSON in BENCH_SERVER. Every Nest server serves both workloads. */
export type ServerSpec =
  | { kind: 'bare-pg'; url: string }
  | { kind: 'nest-mikro'; adapter: Adapter; url: string }
  | { kind: 'by-hand-schema'; adapter: Adapter; url: string; tenants: number }
  | { kind: 'by-hand-database'; adapter: Adapter; url: string; tenants: number; connectionsPerTenant: number }
  | { kind: 'library-static'; adapter: Adapter; url: string; secondaryUrl: string }
  | { kind: 'library-schema'; adapter: Adapter; url: string; tenants: number; injection: 'context' | 'request'; connectionGroups?: number }
  | { kind: 'library-database'; adapter: Adapter; url: string; tenants: number; maxOpenTenants: number; connectionsPerTenant: number }
  | { kind: 'library-table'; adapter: Adapter; url: string; tenants: number; rowLevelSecurity: boolean }
  /** Scenario 11: schema isolation over `urls.length` servers (one: no tenancy.servers), tenants in equal blocks in order. */
  | { kind: 'library-servers'; adapter: Adapter; urls: string[]; tenants: number };

/** How a scenario's tenants are stored: decides which databases must be prepared. */
export type Storage = 'main' | 'schemas' | 'databases' | 'shared' | 'servers';

export interface Scenario {
  /** Stable id used in filters, the JSON and the report, e.g. `4-schema-100-express`. */
  id: string;
  /** Scenario group (1-7: issue #6; 8: relational; 9: by hand; 10: shared tables; 11: servers), the report's `#` column. */
  group: number;
  title: string;
  adapter: Adapter | 'node:http';
  workload: Workload;
  /**
   * The same workload on plain @mikro-orm/nestjs, express: what the report's main tables compare against (fastify
   * scenarios are also compared with the fastify baseline, baselineOf(workload, 'fastify')).
   */
  baseline: string;
  /** Tenant ids the load picks from at random per request (none: the header is still sent, and ignored). */
  tenants: number;
  storage: Storage;
  /** Database name pattern whose client connections (and their memory) are counted (LIKE). */
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
  /** Table mode (shared-tables.ts): bench_shared as the tables' owner (the server's superuser: bypasses row-level security). */
  shared: string;
  /** bench_shared as SHARED_APP_ROLE: no superuser, no BYPASSRLS, row privileges only, so the policies bind it. */
  sharedApp: string;
  /** Scenario 11 (servers-group.ts), when selected: the tenants' database on one server, and on each of three. */
  servers?: { one: string; three: string[] };
}

/** Connections every single-database server may open: the same pool size everywhere, for a fair ceiling. */
export const POOL_MAX = 10;
export const CHURN = { tenants: 200, maxOpenTenants: 20, connectionsPerTenant: 2 } as const;
export const WARM = { tenants: 20, maxOpenTenants: 50, connectionsPerTenant: 2 } as const;
export const SCHEMA_TENANT_COUNTS = [10, 100, 1000] as const;
/** Connection groups of the affinity scenario: 5 groups of 2 connections of the pool of 10. */
export const AFFINITY_GROUPS = 5;
/** The affinity scenario: 1000 tenants, express (its target compares it with 4-schema-1000-express). */
export const AFFINE_SCENARIO = { id: '4-schema-1000-affine-express', tenants: 1000, groups: AFFINITY_GROUPS } as const;
/** The by-hand peer (middleware + RequestContext.create with the tenant's schema) runs at this tenant count. */
export const BY_HAND_TENANTS = 100;
/** findOne by hand also at 1000 schemas, next to the library's 4-schema-1000. */
export const BY_HAND_SCHEMA_COUNTS = [BY_HAND_TENANTS, 1000] as const;
/** Tenants whose rows share the tables of bench_shared (scenario 10). */
export const SHARED_TABLE_TENANTS = 100;
/** Scenario 11: these tenants all on one server, and in equal blocks on SERVER_GROUP.servers servers. */
export const SERVER_GROUP = { tenants: 30, servers: 3 } as const;

export const tenantId = (n: number): string => `t${String(n).padStart(4, '0')}`;
export const tenantSchemaName = (id: string): string => `tenant_${id}`;
export const tenantDatabaseName = (id: string): string => `bench_db_${id}`;

/** The plain @mikro-orm/nestjs scenario a workload and adapter compare against. */
export const baselineOf = (workload: Workload, adapter: Adapter): string =>
  workload === 'findOne' ? `2-nest-mikro-${adapter}` : `8-rel-nest-mikro-${adapter}`;

export function allScenarios(): Scenario[] {
  const adapters: Adapter[] = ['express', 'fastify'];
  const base = (workload: Workload, adapter: Adapter) => ({ workload, adapter, baseline: baselineOf(workload, 'express') });
  const list: Scenario[] = [
    { id: '1-bare-pg', group: 1, title: 'Ceiling: node:http + pg Pool', adapter: 'node:http', workload: 'findOne', baseline: '2-nest-mikro-express', tenants: 0, storage: 'main', databases: 'bench_main', spec: (pg) => ({ kind: 'bare-pg', url: pg.main }) },
  ];
  for (const adapter of adapters) {
    list.push({ id: `2-nest-mikro-${adapter}`, group: 2, title: `Baseline: NestJS + @mikro-orm/nestjs (${adapter})`, ...base('findOne', adapter), tenants: 0, storage: 'main', databases: 'bench_main', spec: (pg) => ({ kind: 'nest-mikro', adapter, url: pg.main }) });
  }
  for (const adapter of adapters) {
    list.push({ id: `3-static-${adapter}`, group: 3, title: `Library, static contexts default + secondary (${adapter})`, ...base('findOne', adapter), tenants: 0, storage: 'main', databases: 'bench_main', spec: (pg) => ({ kind: 'library-static', adapter, url: pg.main, secondaryUrl: pg.secondary }) });
  }
  for (const tenants of SCHEMA_TENANT_COUNTS) {
    for (const adapter of adapters) {
      list.push({ id: `4-schema-${tenants}-${adapter}`, group: 4, title: `Schema isolation, ${tenants} tenants (${adapter})`, ...base('findOne', adapter), tenants, storage: 'schemas', databases: 'bench_schemas', spec: (pg) => ({ kind: 'library-schema', adapter, url: pg.schemas, tenants, injection: 'context' }) });
    }
  }
  // tenancy.connectionAffinity: each of the pool's 10 connections serves the schemas of one group of tenants only
  const affine = AFFINE_SCENARIO;
  list.push({
    id: affine.id, group: 4, title: `Schema isolation, ${affine.tenants} tenants, connectionAffinity ${affine.groups} groups (express)`, ...base('findOne', 'express'), tenants: affine.tenants, storage: 'schemas', databases: 'bench_schemas',
    spec: (pg) => ({ kind: 'library-schema', adapter: 'express', url: pg.schemas, tenants: affine.tenants, injection: 'context', connectionGroups: affine.groups }),
  });
  list.push({
    id: '5-database-warm-express', group: 5, title: `Database isolation, warm: ${WARM.tenants} tenant databases, all open (express)`, ...base('findOne', 'express'), tenants: WARM.tenants, storage: 'databases', databases: 'bench_db_%',
    spec: (pg) => ({ kind: 'library-database', adapter: 'express', url: pg.server, ...WARM }),
  });
  list.push({
    id: '6-database-churn-express', group: 6, title: `Database isolation, churn: ${CHURN.tenants} tenant databases, maxOpenTenants ${CHURN.maxOpenTenants} (express)`, ...base('findOne', 'express'), tenants: CHURN.tenants, storage: 'databases', databases: 'bench_db_%',
    connectionBudget: CHURN.maxOpenTenants * CHURN.connectionsPerTenant,
    spec: (pg) => ({ kind: 'library-database', adapter: 'express', url: pg.server, ...CHURN }),
  });
  list.push({ id: '7-request-scoped-express', group: 7, title: "Opt-in injection: 'request', schema isolation, 10 tenants (express)", ...base('findOne', 'express'), tenants: 10, storage: 'schemas', databases: 'bench_schemas', spec: (pg) => ({ kind: 'library-schema', adapter: 'express', url: pg.schemas, tenants: 10, injection: 'request' }) });

  // 8: the relational workload in every mode, against the same endpoint on plain @mikro-orm/nestjs
  for (const adapter of adapters) {
    list.push({ id: `8-rel-nest-mikro-${adapter}`, group: 8, title: `Relational baseline: NestJS + @mikro-orm/nestjs (${adapter})`, ...base('relational', adapter), tenants: 0, storage: 'main', databases: 'bench_main', spec: (pg) => ({ kind: 'nest-mikro', adapter, url: pg.main }) });
  }
  for (const tenants of SCHEMA_TENANT_COUNTS) {
    for (const adapter of adapters) {
      list.push({ id: `8-rel-schema-${tenants}-${adapter}`, group: 8, title: `Relational, schema isolation, ${tenants} tenants (${adapter})`, ...base('relational', adapter), tenants, storage: 'schemas', databases: 'bench_schemas', spec: (pg) => ({ kind: 'library-schema', adapter, url: pg.schemas, tenants, injection: 'context' }) });
    }
  }
  list.push({
    id: '8-rel-database-warm-express', group: 8, title: `Relational, database isolation, warm: ${WARM.tenants} tenant databases (express)`, ...base('relational', 'express'), tenants: WARM.tenants, storage: 'databases', databases: 'bench_db_%',
    spec: (pg) => ({ kind: 'library-database', adapter: 'express', url: pg.server, ...WARM }),
  });

  // 9: what a user writes without this package, for schema mode (servers/by-hand.module.ts) and database mode
  // (servers/by-hand-database.module.ts): where the library's figures and these agree, the cost is not the library's
  for (const workload of ['findOne', 'relational'] as const) {
    const rel = workload === 'relational' ? 'rel-' : '';
    for (const tenants of workload === 'findOne' ? BY_HAND_SCHEMA_COUNTS : [BY_HAND_TENANTS]) {
      list.push({
        id: `9-by-hand-${rel}schema-${tenants}-express`, group: 9, title: `By hand: @mikro-orm/nestjs + middleware forking with the tenant's schema, ${tenants} tenants, ${workload} (express)`, ...base(workload, 'express'),
        tenants, storage: 'schemas', databases: 'bench_schemas', spec: (pg) => ({ kind: 'by-hand-schema', adapter: 'express', url: pg.schemas, tenants }),
      });
    }
    list.push({
      id: `9-by-hand-${rel}database-warm-express`, group: 9, title: `By hand: one MikroORM per tenant database + middleware, warm: ${WARM.tenants} tenant databases, ${workload} (express)`, ...base(workload, 'express'),
      tenants: WARM.tenants, storage: 'databases', databases: 'bench_db_%',
      spec: (pg) => ({ kind: 'by-hand-database', adapter: 'express', url: pg.server, tenants: WARM.tenants, connectionsPerTenant: WARM.connectionsPerTenant }),
    });
  }

  // 10: shared tables (isolation: 'table', issue 15): ORM filter + row-level security as an RLS-bound role, and the ORM filter alone
  const tenants = SHARED_TABLE_TENANTS;
  for (const workload of ['findOne', 'relational'] as const) {
    for (const rowLevelSecurity of [true, false]) {
      const layers = rowLevelSecurity ? 'ORM filter + row-level security' : 'ORM filter alone (rowLevelSecurity: false)';
      list.push({
        id: `10-${workload === 'relational' ? 'rel-' : ''}table-${rowLevelSecurity ? 'rls' : 'orm'}-${tenants}-express`, group: 10,
        title: `${workload === 'relational' ? 'Relational, shared' : 'Shared'} tables, ${layers}, ${tenants} tenants (express)`, ...base(workload, 'express'),
        tenants, storage: 'shared', databases: 'bench_shared',
        spec: (pg) => ({ kind: 'library-table', adapter: 'express', url: rowLevelSecurity ? pg.sharedApp : pg.shared, tenants, rowLevelSecurity }),
      });
    }
  }

  // 11: the same tenants on one server and spread over three PostgreSQL servers (issue 17; servers-group.ts)
  for (const workload of ['findOne', 'relational'] as const) {
    for (const servers of [1, SERVER_GROUP.servers]) {
      const { tenants } = SERVER_GROUP;
      list.push({
        id: serverGroupId(workload, servers), group: 11,
        title: `${workload === 'relational' ? 'Relational, schema' : 'Schema'} isolation, ${tenants} tenants on ${servers === 1 ? 'one server' : `${servers} servers (PG columns: the first only)`} (express)`,
        ...base(workload, 'express'), tenants, storage: 'servers', databases: servers === 1 ? SERVER_GROUP_DATABASES.one : SERVER_GROUP_DATABASES.three,
        spec: (pg) => {
          if (!pg.servers) throw new Error('scenario 11 needs the servers of servers-group.ts (prepareServerGroup)');
          return { kind: 'library-servers', adapter: 'express', urls: servers === 1 ? [pg.servers.one] : pg.servers.three, tenants };
        },
      });
    }
  }
  return list;
}

/** Scenario 11's ids: `11-servers-1x30-express`, `11-servers-rel-3x30-express`... (`11-` selects the group). */
export const serverGroupId = (workload: Workload, servers: number): string =>
  `11-servers-${workload === 'relational' ? 'rel-' : ''}${servers}x${SERVER_GROUP.tenants}-express`;
/** Scenario 11's databases: all tenants' schemas on the bench server; each server's block on every server. */
export const SERVER_GROUP_DATABASES = { one: 'bench_srv_one', three: 'bench_srv_three' } as const;

/** The library scenario the by-hand peer `id` is compared with (same workload, tenants and adapter). */
export function libraryPeerOfByHand(id: string): string | undefined {
  const match = /^9-by-hand-(rel-)?schema-(\d+)-(express|fastify)$/.exec(id);
  if (!match) return undefined;
  return match[1] ? `8-rel-schema-${match[2]}-${match[3]}` : `4-schema-${match[2]}-${match[3]}`;
}

/**
 * Scenarios selected by BENCH_SCENARIOS (exact ids or id prefixes); the baselines of the selected scenarios always
 * run (ratios), so do the express findOne baseline and, for a by-hand scenario, the library scenario it is compared with.
 */
export function selectScenarios(filter: string[] | undefined): Scenario[] {
  const all = allScenarios();
  if (!filter) return all;
  const chosen = all.filter((s) => filter.some((f) => s.id === f || s.id.startsWith(f)));
  const needed = new Set([
    '2-nest-mikro-express',
    ...chosen.flatMap((s) => [s.id, s.baseline, s.adapter === 'node:http' ? s.baseline : baselineOf(s.workload, s.adapter), libraryPeerOfByHand(s.id) ?? s.id]),
  ]);
  return all.filter((s) => needed.has(s.id));
}

/** What the selected scenarios need prepared once per run. */
export interface StorageNeeds {
  schemas: number;
  databases: number;
  /** Tenants in the shared tables of bench_shared (0: not made). */
  shared: number;
  /** Scenario 11's tenants (0 or absent: its extra servers are not started). */
  servers?: number;
}

/** The schemas, tenant databases and shared-table tenants the selected scenarios need (prepared once per run). */
export function storageNeeds(scenarios: Scenario[]): StorageNeeds {
  const most = (storage: Storage): number => Math.max(0, ...scenarios.filter((s) => s.storage === storage).map((s) => s.tenants));
  return { schemas: most('schemas'), databases: most('databases'), shared: most('shared'), servers: most('servers') };
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
