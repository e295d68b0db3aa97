/**
 * Isolation soak on the relational model (issue 12): the blog model of the isolation conformance suite (m:1, 1:m,
 * 1:1, generated and self m:n pivots, a pivot entity, an embeddable, a formula, a default filter) served over HTTP to
 * a handful of tenants, in schema, database and table isolation, on express and on fastify. Thousands of interleaved
 * random requests: paginated lists with an author join, a tags populate and counts (joined, select-in and balanced
 * loading), author pages populating every relation kind, and transactional writes with sleeps between their queries
 * (article + tags, favorite through the pivot entity, follow through the self m:n, comment); a fifth of the requests
 * aborted by the client mid-flight. Look-alike sentinel rows (same keys, same unique values) sit in `public` of the
 * tenants' database (schema mode) or in the hub and template databases (database mode). In table mode (issue 15)
 * every tenant's rows share the tables, the app connects as a role row-level security binds (an owner app generated
 * and applied the tenant migration first), seeded ids carry the tenant (primary keys are global) while unique values
 * are the same in every tenant, and the look-alikes are rows of a `ghost` tenant, of `R1` (a case variant of r1)
 * and of the empty id in the same tables; a tenant's rows, for the checks below, are those with its tenant_id (pivot
 * rows: those whose owning row has it), and no row may carry any other tenant_id. Table mode runs a second time
 * with the tenant context behind a real PgBouncer in transaction mode (4 server connections for every tenant): the
 * tenant setting is set per transaction, so it must hold there too.
 *
 * Judged four ways: every row of every response must be the requesting tenant's (marker in a text column, id sent
 * for that tenant), and counts/relation sets must hold every write acknowledged before the request and nothing never
 * sent; every acknowledged write must be in that tenant's tables (raw SQL), and nothing in any tenant's tables may be
 * another tenant's; the seeded rows of every tenant must hold their content (the soak only inserts); the sentinel
 * rows and tables, and the hub's tenant table, must be as they were (row versions included).
 *
 * Also none: deadlock victims (409, rolled back) and seeded rows rewritten with the same content by UPDATEs the soak
 * never made. Both showed in database mode before src/isolation/shared-hydration-state.ts: once another tenant ORM
 * was initialised after the flushing tenant's (entity prototypes are decorated per init, the last wins), flushes
 * issued `update "profile" set "author_id" = <same>` for loaded authors, and those row locks made concurrent write
 * transactions deadlock now and then (test/e2e/tenant-orms-shared-prototypes.e2e-spec.ts pins it down).
 * RELIABILITY_RELATIONAL_SOAK_REQUESTS (requests per mode, default 1200) and RELIABILITY_RELATIONAL_SOAK_CLIENTS tune it.
 * It runs to that count, not for a time: a busy machine is slower, not laxer.
 */
import { ContextMigrations, MikroTenancyModule, type TenantIsolation, TenantLifecycle, TenantStores } from '../../src/index.js';
import { type SharedPlace, SharedTablesSql, placeDataset } from '../fixtures/shared-tables/places.js';
import { hubContextConfig, tenantTemplateConfig } from '../fixtures/relational/app.js';
import { dataset } from '../fixtures/relational/dataset.js';
import { TenantRow } from '../fixtures/relational/entities.js';
import { type Place, RawSql, Sentinels } from '../fixtures/relational/places.js';
import { migrationsFolder, modelDdl } from '../fixtures/relational/setup.js';
import type { Platform } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { type Figures, type SoakPlace, TenantBook, WRITE_KINDS, ackedWrites, rowVersions, runWorkload, seedRowChanges, verifyInPostgres } from './support/relational-soak.js';
import { type PgBouncer, startPgBouncer } from './support/pgbouncer.js';
import { newHttpAgent, startSoakApp } from './support/soak.js';
import { STRATEGIES, SoakBlogController } from './support/soak-blog.controller.js';

/** Requests per isolation mode, split between the platforms. */
const REQUESTS = Number(process.env.RELIABILITY_RELATIONAL_SOAK_REQUESTS ?? 1200);
/** Only catches a hang: a slow machine takes longer, it never does less work. */
const HANG_TIMEOUT_MS = 900_000;
const TENANT_IDS = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'];
const CLIENTS = Number(process.env.RELIABILITY_RELATIONAL_SOAK_CLIENTS ?? 12);
const PLATFORMS: Platform[] = ['express', 'fastify'];

let ddl: { tenant: string; hub: string };

// plain ORMs on the tenant entities print the sentinel DDL: before any app boots (MikroORM decorates entity prototypes per init)
beforeAll(async () => {
  ddl = await modelDdl();
});

/** Table mode also runs behind a real PgBouncer in transaction mode (the tenant context only; 4 server connections). */
const VARIANTS: [TenantIsolation, '' | ' behind PgBouncer'][] = [
  ['schema', ''],
  ['database', ''],
  ['table', ''],
  ['table', ' behind PgBouncer'],
];

describe.each(VARIANTS)('relational isolation soak (%s isolation%s)', (isolation, via) => {
  const label = `${isolation}${via ? '+pgbouncer' : ''}`;
  let bouncer: PgBouncer | undefined;
  const databases = new TestDatabases();
  const raw = new RawSql();
  /** Table mode: the app's role (row-level security binds it), and look-alike places in the same tables. */
  const role = uniqueName('relsoak_app').toLowerCase();
  const SHARED_SENTINELS: SharedPlace[] = [
    { label: 'ghost', tenantId: 'ghost', marker: 'SENTINEL-ghost', variant: 'sentinel' },
    { label: 'R1', tenantId: 'R1', marker: 'SENTINEL-R1', variant: 'sentinel' },
  ];
  let shared: SharedTablesSql | undefined;
  let sentinelChanges: () => Promise<Record<string, unknown>>;
  const migrations = migrationsFolder(`soak_${isolation}`);
  const prefix = uniqueName('relsoak');
  const dbOf = (tenantId: string) => `${prefix}_${tenantId}`;
  let hubDb: string;
  let templateDb: string;
  let sentinels: Sentinels;
  let books: TenantBook[];
  let hubTenantsBefore: string[];
  const seedVersions = new Map<string, Map<string, string>>();

  /** `owner`: table mode's deploy step, connected as the tables' owner (a superuser: warned, not refused). */
  const metadata = (owner = false) => ({
    imports: [
      MikroTenancyModule.forRoot({
        contexts: { default: hubContextConfig(hubDb) },
        tenancy:
          isolation === 'table'
            ? {
                isolation: 'table' as const,
                // every tenant in the same tables, one pool, connected as a role row-level security binds
                config: tenantTemplateConfig(hubDb, migrations.path, {
                  pool: { max: 8 },
                  ...(owner ? {} : { user: role, password: 'pw', ...(bouncer ? { host: bouncer.host, port: bouncer.port } : {}) }),
                }),
                store: TenantStores.table(TenantRow),
                sharedTables: { bypassingRole: owner ? ('warn' as const) : ('refuse' as const) },
                pool: { acquireTimeoutMs: 10_000 },
              }
            : isolation === 'schema'
            ? {
                isolation: 'schema' as const,
                // one pool for every tenant
                config: tenantTemplateConfig(hubDb, migrations.path, { pool: { max: 8 } }),
                store: TenantStores.table(TenantRow),
                schemaName: (tenant) => (tenant as TenantRow).schemaName ?? `tenant_${tenant.id}`,
                pool: { acquireTimeoutMs: 10_000 },
              }
            : {
                isolation: 'database' as const,
                // the template has a database of its own, with look-alike rows: no tenant may ever be served from it
                config: tenantTemplateConfig(templateDb, migrations.path),
                store: TenantStores.table(TenantRow),
                database: (tenant) => ({ dbName: (tenant as TenantRow).dbName ?? dbOf(tenant.id) }),
                // 5 open of 7 tenants: tenant ORMs are closed and reopened under load
                pool: { maxOpenTenants: 5, connectionsPerTenant: 3, acquireTimeoutMs: 10_000 },
              },
      }),
    ],
    controllers: [SoakBlogController],
  });

  const hubTenants = async () =>
    (await raw.exec(hubDb, "select xmin::text || ' ' || to_jsonb(t)::text as row from tenant t order by id")).rows.map((r) => (r as { row: string }).row);

  beforeAll(async () => {
    const started = performance.now();
    hubDb = await databases.create({ schema: 'relsoak_one', database: 'relsoak_hub', table: 'relsoak_shared' }[isolation]);
    await raw.exec(hubDb, ddl.hub);
    let sentinelPlaces: Place[] = [];
    if (isolation === 'table') {
      await sql('postgres', `create role "${role}" login password 'pw'`);
      if (via) bouncer = await startPgBouncer({ poolSize: 4, users: [{ name: role, password: 'pw' }] });
      // the owner (the test's superuser) creates the tables; the app role gets row privileges on them, nothing more
      await raw.exec(
        hubDb,
        `grant usage on schema public to "${role}"; alter default privileges in schema public grant select, insert, update, delete on tables to "${role}"; ` +
          `alter default privileges in schema public grant usage, select on sequences to "${role}"`,
      );
    } else if (isolation === 'schema') {
      sentinelPlaces = [{ label: 'public', db: hubDb, schema: 'public', marker: 'SENTINEL-public', variant: 'sentinel' }];
    } else {
      templateDb = await databases.create('relsoak_tpl');
      sentinelPlaces = [
        { label: 'hub', db: hubDb, schema: 'public', marker: 'SENTINEL-hub', variant: 'sentinel' },
        { label: 'template', db: templateDb, schema: 'public', marker: 'SENTINEL-template', variant: 'sentinel' },
      ];
    }
    for (const place of sentinelPlaces) {
      await raw.createTables(place, ddl.tenant);
      await raw.reseed(place);
    }
    sentinels = new Sentinels(raw, sentinelPlaces, ['tenant']);
    await sentinels.take();

    const setup = await startSoakApp(metadata(true), 'express');
    try {
      const created = await setup.app.get(ContextMigrations).create('tenant');
      expect(created.fileName).not.toBe('');
      const lifecycle = setup.app.get(TenantLifecycle);
      // table mode: the shared tables are made once, before any tenant exists (a deploy step)
      if (isolation === 'table') expect((await lifecycle.migrate()).sharedTables?.status).toBe('migrated');
      for (const id of TENANT_IDS) await lifecycle.create(id, {}, { seed: false });
    } finally {
      await setup.close();
    }
    if (isolation === 'table') {
      // look-alike rows in the same tables: another tenant id, a case variant of r1, and the empty id (what a reset setting reads as)
      shared = new SharedTablesSql(hubDb);
      for (const place of SHARED_SENTINELS) await shared.reseed(place);
      await shared.exec(`insert into author (id, username, email, display_name, address_city, address_country, tenant_id) values ('empty-a1', 'alice', 'alice@example.com', 'SENTINEL-empty', 'Paris', 'x', '')`);
      const snapshot = async () => {
        const places: Record<string, Record<string, string[]>> = {};
        for (const t of ['ghost', 'R1', '']) places[t] = await (shared as SharedTablesSql).snapshot(t);
        return places;
      };
      const baseline = await snapshot();
      sentinelChanges = async () => {
        const now = await snapshot();
        const changed: Record<string, unknown> = {};
        for (const [label, tables] of Object.entries(now)) if (JSON.stringify(tables) !== JSON.stringify(baseline[label])) changed[label || '(empty id)'] = tables;
        // and no row of any tenant that is neither a soak tenant nor a look-alike
        const strays = await (shared as SharedTablesSql).strays([...TENANT_IDS, 'ghost', 'R1', '']);
        if (Object.keys(strays).length) changed['(strays)'] = strays;
        return changed;
      };
    } else {
      sentinelChanges = () => sentinels.changes();
    }
    books = TENANT_IDS.map((id, i) => {
      const variant = i % 2 === 0 ? 't1' : 't2';
      if (isolation === 'table') {
        // shared tables: primary keys are global, so the seeded ids carry the tenant (`r1-a1`); unique values are the same in every tenant
        const place: SoakPlace = { label: id, db: hubDb, schema: 'public', marker: id, variant, sharedTenantId: id };
        return new TenantBook(id, place, placeDataset({ label: id, tenantId: id, marker: id, variant }));
      }
      const place: Place =
        isolation === 'schema' ? { label: id, db: hubDb, schema: `tenant_${id}`, marker: id, variant } : { label: id, db: dbOf(id), schema: 'public', marker: id, variant };
      return new TenantBook(id, place, dataset(id, variant));
    });
    for (const book of books) {
      if (shared) await shared.reseed({ label: book.id, tenantId: book.id, marker: book.id, variant: book.place.variant });
      else await raw.reseed(book.place);
      seedVersions.set(book.id, await rowVersions(raw, book.place));
    }
    hubTenantsBefore = await hubTenants();
    expect(hubTenantsBefore).toHaveLength(TENANT_IDS.length);
    process.stdout.write(`[relational soak ${label}] ${TENANT_IDS.length} tenants created and seeded in ${Math.round(performance.now() - started)} ms\n`);
  }, 120_000);

  afterAll(async () => {
    await bouncer?.stop();
    await raw.close();
    await shared?.close();
    await databases.dropAll(prefix);
    if (isolation === 'table') await sql('postgres', `drop role if exists "${role}"`).catch(() => undefined);
    migrations.dispose();
  });

  it(`serves ${TENANT_IDS.length} tenants of the relational model under a randomized, aborting workload: no foreign row, no lost acknowledged write, sentinels untouched`, async () => {
    const all: Figures[] = [];
    const serverErrors: string[] = [];
    for (const platform of PLATFORMS) {
      const app = await startSoakApp(metadata(), platform);
      const agent = newHttpAgent();
      const ackedBefore = ackedWrites(books);
      const figures = await runWorkload({ url: app.url, platform, books, agent, clients: CLIENTS, requests: Math.ceil(REQUESTS / PLATFORMS.length) });
      // let handlers of aborted requests finish before closing (their clients are gone, the server is not)
      await new Promise((resolve) => setTimeout(resolve, 300));
      agent.destroy();
      await app.close();
      serverErrors.push(...app.logger.errors.map((e) => `[${platform}] ${e}`));
      all.push(figures);
      const acked = ackedWrites(books);
      process.stdout.write(
        `[relational soak ${label}/${platform}] ${figures.requests} requests (${JSON.stringify(figures.byKind)}; strategies ${JSON.stringify(figures.byStrategy)}): ` +
          `${figures.ok} ok, ${figures.aborted} aborted, ${figures.errors.length} errors, ${figures.deadlocks.length} deadlock victims; writes acknowledged: ` +
          `${acked.articles - ackedBefore.articles} articles, ${acked.favorites - ackedBefore.favorites} favorites, ${acked.follows - ackedBefore.follows} follows, ${acked.comments - ackedBefore.comments} comments; ` +
          `${figures.findings.foreign.length} foreign rows, ${figures.findings.inconsistent.length} inconsistent answers in responses; ` +
          `server logged ${app.logger.errors.length} errors, ${app.logger.warnings.length} warnings; mean ms by kind ${JSON.stringify(figures.meanMs)}\n`,
      );
    }

    const verdict = await verifyInPostgres(raw, books);
    const sentinelsChanged = await sentinelChanges();
    const hubTenantsAfter = await hubTenants();
    const seedChanged: string[] = [];
    const seedRewritten: string[] = [];
    for (const book of books) {
      const { changed, rewritten } = await seedRowChanges(raw, book, seedVersions.get(book.id) ?? new Map());
      seedChanged.push(...changed);
      seedRewritten.push(...rewritten);
    }
    const deadlocks = all.flatMap((f) => f.deadlocks);
    const foreignInResponses = all.flatMap((f) => f.findings.foreign);
    const inconsistent = all.flatMap((f) => f.findings.inconsistent);
    const errors = all.flatMap((f) => f.errors);
    const total = all.reduce((sum, f) => ({ requests: sum.requests + f.requests, ok: sum.ok + f.ok, aborted: sum.aborted + f.aborted }), { requests: 0, ok: 0, aborted: 0 });
    const writes = ackedWrites(books);
    process.stdout.write(
      `[relational soak ${label}] TOTAL ${total.requests} requests: ${total.ok} ok, ${total.aborted} aborted, ${errors.length} errors; ` +
        `${foreignInResponses.length} foreign rows and ${inconsistent.length} inconsistent answers in responses; ` +
        `in PostgreSQL ${verdict.rowsChecked} tenant rows checked, ${verdict.foreign.length} foreign; ${verdict.ackedChecked} acknowledged writes checked, ${verdict.lost.length} lost ` +
        `(${JSON.stringify(writes)}); seeded tenant rows changed: ${seedChanged.length}; sentinel places changed: ${Object.keys(sentinelsChanged).length}; ` +
        `server-side errors logged: ${serverErrors.length}; deadlock victims: ${deadlocks.length}; seeded rows rewritten by UPDATEs the soak never made: ${seedRewritten.length}\n`,
    );
    for (const [label, list] of Object.entries({ foreignInResponses, inconsistent, errors, serverErrors, foreignInPostgres: verdict.foreign, lost: verdict.lost, seedChanged, deadlocks, seedRewritten })) {
      if (list.length) process.stdout.write(`[relational soak ${label}] first ${label}:\n  ${list.slice(0, 5).join('\n  ')}\n`);
    }

    expect(foreignInResponses.slice(0, 10)).toEqual([]);
    expect(verdict.foreign.slice(0, 10)).toEqual([]);
    expect(verdict.lost.slice(0, 10)).toEqual([]);
    expect(seedChanged.slice(0, 10)).toEqual([]);
    expect({ sentinelChanges: sentinelsChanged }).toEqual({ sentinelChanges: {} });
    expect(hubTenantsAfter).toEqual(hubTenantsBefore);
    expect(inconsistent.slice(0, 10)).toEqual([]);
    expect(errors.slice(0, 10)).toEqual([]);
    expect(serverErrors.slice(0, 10)).toEqual([]);
    expect(seedRewritten.slice(0, 10)).toEqual([]);
    expect(deadlocks.slice(0, 10)).toEqual([]);
    // the workload really ran: every request answered or aborted, every request kind and load strategy, writes of every
    // kind acknowledged, requests aborted mid-flight (a fifth are scheduled to abort): shares of the count, not of a time
    expect(total).toEqual({ requests: PLATFORMS.length * Math.ceil(REQUESTS / PLATFORMS.length), ok: total.requests - total.aborted, aborted: total.aborted });
    expect(total.aborted).toBeGreaterThan(REQUESTS / 40);
    for (const figures of all) {
      for (const kind of ['list', 'author', ...WRITE_KINDS]) expect({ platform: figures.platform, kind, ok: (figures.byKind[kind] ?? 0) > REQUESTS / 150 }).toEqual({ platform: figures.platform, kind, ok: true });
      for (const strategy of STRATEGIES) expect({ platform: figures.platform, strategy, ok: (figures.byStrategy[strategy] ?? 0) > REQUESTS / 150 }).toEqual({ platform: figures.platform, strategy, ok: true });
    }
    for (const [kind, count] of Object.entries(writes)) expect({ kind, acknowledged: count > REQUESTS / 100 }).toEqual({ kind, acknowledged: true });
    expect(verdict.ackedChecked).toBeGreaterThan(REQUESTS / 10);
    if (bouncer) {
      // the tenant context really went through PgBouncer: without it, a tenant request cannot reach the database
      const app = await startSoakApp(metadata(), 'express');
      try {
        const headers = { 'x-tenant-id': TENANT_IDS[0] as string };
        expect((await fetch(`${app.url}/soak/authors/${TENANT_IDS[0]}-a1?strategy=joined`, { headers })).status).toBe(200);
        await bouncer.stop();
        expect((await fetch(`${app.url}/soak/authors/${TENANT_IDS[0]}-a1?strategy=joined`, { headers })).status).toBe(503);
      } finally {
        await app.close();
      }
    }
  }, HANG_TIMEOUT_MS);
});
