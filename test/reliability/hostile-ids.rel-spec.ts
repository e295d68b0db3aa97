/**
 * 1000+ hostile tenant ids through every resolver (header, subdomain, path, query), in every isolation mode:
 * every answer is 400 or 404, a 400 runs no SQL at all, a 404 runs only the tenant lookup with a well-formed id
 * (checked in the ORM's query log), no line the app logs while answering a request carries that request's id raw,
 * no schema or database appears, the tenant table is untouched, and the app keeps serving real tenants. The same ids
 * given in code to TenantLifecycle.create/drop/suspend and TenancyService.run() are refused as invalid
 * (InvalidTenantIdError) with no SQL, and neither the error nor a log line carries an ill-formed id raw.
 * Table mode (issue 15): the app's tenant context connects as a role row-level security binds (an owner app
 * generated and applied the tenant migration first), and nothing is written to the shared table: its look-alike
 * rows (tenant ids `acme`, `ghost` and the empty id) keep their row versions, and its id sequence never moved
 * (an insert refused by a policy would still have taken a value).
 */
import type { ModuleMetadata } from '@nestjs/common';
import {
  ContextMigrations,
  InvalidTenantIdError,
  MikroTenancyModule,
  type MikroTenancyModuleOptions,
  TenancyService,
  TenantLifecycle,
  TenantResolvers,
  type TenantIsolation,
} from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { CapturingLogger, type StartedApp, startBlogApp } from '../fixtures/relational/app.js';
import { migrationsFolder } from '../fixtures/relational/setup.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { UNKNOWN_WELL_FORMED, hostileIds } from './support/hostile-ids.js';
import { rawGet } from './support/raw-http.js';

const WELL_FORMED = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const RESERVED = /^(public|information_schema|pg_.*)$/;
const BASE_DOMAIN = 'example.test';

type Transport = 'header' | 'subdomain' | 'path' | 'query';
const TRANSPORTS: Transport[] = ['header', 'subdomain', 'path', 'query'];

/** The request that carries `id` through one resolver, and nothing through the others. */
function requestFor(transport: Transport, id: string): { target: string; headers: Record<string, string> } {
  const host = { Host: `127.0.0.1` };
  switch (transport) {
    case 'header':
      return { target: '/notes', headers: { ...host, 'x-tenant-id': id } };
    case 'subdomain':
      return { target: '/notes', headers: { Host: `${id}.${BASE_DOMAIN}` } };
    case 'path':
      return { target: `/t/${encodeURIComponent(id)}/notes`, headers: host };
    case 'query':
      return { target: `/notes?tenant=${encodeURIComponent(id)}`, headers: host };
  }
}

/** Header and Host values cannot carry CR/LF (that would be a second header, not a value). */
const sendable = (transport: Transport, id: string) => !((transport === 'header' || transport === 'subdomain') && /[\r\n]/.test(id));

/** SQL string literals in a logged query (MikroORM logs parameters inlined). */
const literals = (query: string) => [...query.matchAll(/'((?:[^']|'')*)'/g)].map((m) => (m[1] as string).replace(/''/g, "'"));

describe.each<TenantIsolation>(['schema', 'database', 'table'])('hostile tenant ids (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('hi');
  const queries: string[] = [];
  /** Every line the app logs, at every level. */
  const logger = new CapturingLogger();
  /** Table mode: the app's role, and the folder of the generated tenant migration. */
  const role = uniqueName('hi_app').toLowerCase();
  const migrations = migrationsFolder('hostile_table');
  let hubDb: string;
  let app: StartedApp;
  let port: number;

  const namespaces = async () => (await sql<{ n: string }>(hubDb, 'select nspname as n from pg_namespace order by 1')).map((r) => r.n);
  const databaseNames = async () => (await sql<{ d: string }>('postgres', 'select datname as d from pg_database order by 1')).map((r) => r.d);
  const tenantRows = () => sql(hubDb, `select xmin::text as v, to_jsonb(t)::text as row from tenant t order by 2`);
  /** Table mode: every row of the shared table with its row version, and where its id sequence stands. */
  const sharedTable = async () => ({
    rows: await sql(hubDb, `select xmin::text as v, id, title, marker, tenant_id from note order by id`),
    sequence: await sql(hubDb, `select last_value::int, is_called from note_id_seq`),
  });
  const appModule = (options: MikroTenancyModuleOptions): ModuleMetadata => ({
    imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')],
    controllers: [NotesController],
    providers: [NotesService],
  });

  beforeAll(async () => {
    hubDb = await databases.create('hihub');
    const options = lifecycleOptions({ isolation, hubDb, databasePrefix });
    const logQueries = { debug: ['query', 'query-params'] as const, logger: (message: string) => void queries.push(message) };
    const hub = options.contexts!.hub!;
    options.contexts = { hub: { ...hub, ...logQueries, debug: [...logQueries.debug] } };
    options.tenancy = {
      ...options.tenancy!,
      config: { ...options.tenancy!.config, ...logQueries, debug: [...logQueries.debug] },
      resolve: [
        TenantResolvers.header('x-tenant-id'),
        TenantResolvers.subdomain({ baseDomain: BASE_DOMAIN }),
        TenantResolvers.path({ prefix: 't' }),
        TenantResolvers.query('tenant'),
      ],
    };
    if (isolation === 'table') {
      await sql('postgres', `create role "${role}" login password 'pw'`);
      // the owner (the test's superuser) creates the tables; the app role gets row privileges on them, nothing more
      await sql(
        hubDb,
        `grant usage on schema public to "${role}"; alter default privileges in schema public grant select, insert, update, delete on tables to "${role}"; ` +
          `alter default privileges in schema public grant usage, select on sequences to "${role}"`,
      );
      // the tenant migration is generated (the committed ones have no tenant column), in a table of its own next to the hub's
      const template = options.tenancy.config;
      const tableConfig = (user: Record<string, string>) => ({ ...template, ...user, migrations: { ...template.migrations, path: migrations.path, tableName: 'tenant_migrations' } });
      const owner = await startBlogApp(appModule({ ...options, tenancy: { ...options.tenancy, config: tableConfig({}), sharedTables: { bypassingRole: 'warn' } } }), logger);
      try {
        await owner.app.get(ContextMigrations).up('hub');
        expect((await owner.app.get(ContextMigrations).create('tenant')).fileName).not.toBe('');
        expect((await owner.app.get(TenantLifecycle).migrate()).sharedTables?.status).toBe('migrated');
      } finally {
        await owner.close();
      }
      options.tenancy = { ...options.tenancy, config: tableConfig({ user: role, password: 'pw' }) };
    }
    app = await startBlogApp(appModule(options), logger);
    port = Number(new URL(app.url).port);
    await app.app.get(ContextMigrations).up('hub');
    for (const id of ['alpha', 'beta']) await app.app.get(TenantLifecycle).create(id);
    if (isolation === 'table') {
      // look-alike rows in the shared table, of ids the corpus splices (acme), of no tenant, and of the empty id
      for (const [tenantId, title] of [['acme', 'acme'], ['ghost', 'ghost'], ['', 'empty']]) await sql(hubDb, 'insert into note (title, marker, tenant_id) values ($1, $2, $3)', [title, 'SENTINEL', tenantId]);
    }
  });

  afterAll(async () => {
    await app?.close();
    await databases.dropAll(databasePrefix);
    if (isolation === 'table') await sql('postgres', `drop role if exists "${role}"`).catch(() => undefined);
    migrations.dispose();
  });

  it('answers every hostile id with 400 or 404, runs no SQL with it, creates nothing and stays up', async () => {
    const corpus = hostileIds();
    expect(corpus.length).toBeGreaterThanOrEqual(1000);
    const before = { namespaces: await namespaces(), databases: await databaseNames(), tenants: await tenantRows() };
    const sharedBefore = isolation === 'table' ? await sharedTable() : undefined;
    if (sharedBefore) expect(sharedBefore.rows).toHaveLength(3);

    const statuses = new Map<number, number>();
    const problems: string[] = [];
    let sent = 0;
    let lookupsLogged = 0; // proves the query log sees the lookups (the cache is off in this fixture)
    let linesLogged = 0;
    for (const transport of TRANSPORTS) {
      for (const id of [...corpus, ...UNKNOWN_WELL_FORMED]) {
        if (!sendable(transport, id)) continue;
        const { target, headers } = requestFor(transport, id);
        const logged = queries.length;
        const lines = logger.lines.length;
        const status = await rawGet(port, target, headers);
        sent++;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const ran = queries.slice(logged);
        // what the app logged while answering: never a refused id raw (a blank or one-character id would match anything)
        const said = logger.lines.slice(lines);
        linesLogged += said.length;
        if (status === 404 && ran.length) lookupsLogged++;
        const where = `${transport} ${JSON.stringify(id).slice(0, 80)}`;
        if (status !== 400 && status !== 404) problems.push(`${where}: status ${status}`);
        if (status === 400 && ran.length) problems.push(`${where}: 400 but ran SQL: ${ran[0]}`);
        if (status === 400 && id.trim().length > 1) for (const line of said.filter((l) => l.includes(id))) problems.push(`${where}: logged raw: ${line.slice(0, 200)}`);
        for (const query of ran) {
          // the only SQL a rejected or unknown tenant may cause is the tenant lookup, with a well-formed id
          if (!/from "tenant"/.test(query)) problems.push(`${where}: unexpected SQL ${query}`);
          for (const literal of literals(query)) {
            if (!WELL_FORMED.test(literal) || RESERVED.test(literal)) problems.push(`${where}: SQL carries ${JSON.stringify(literal)}`);
          }
        }
      }
    }
    // Jest prints this with the test file's output
    console.log(
      `hostile ids (${isolation}): ${corpus.length} ids + ${UNKNOWN_WELL_FORMED.length} unknown well-formed, ${sent} requests over ${TRANSPORTS.join('/')}; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `lookups seen in the query log ${lookupsLogged}; app log lines while answering ${linesLogged}; problems ${problems.length}`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    expect(lookupsLogged).toBeGreaterThanOrEqual(UNKNOWN_WELL_FORMED.length); // well-formed unknown ids reached the lookup

    // the same ids given to the lifecycle and to TenancyService.run() in code: refused as invalid before any SQL or log line
    const lifecycle = app.app.get(TenantLifecycle);
    const tenancy = app.app.get(TenancyService);
    const calls: [string, (id: string) => Promise<unknown>][] = [
      ['create', (id) => lifecycle.create(id, {}, { seed: false })],
      ['drop', (id) => lifecycle.drop(id, { confirm: id })],
      ['suspend', (id) => lifecycle.suspend(id)],
      ['run', (id) => tenancy.run(id, async () => 'ran')],
    ];
    let refused = 0;
    const codeProblems: string[] = [];
    for (const id of corpus.filter((i) => !WELL_FORMED.test(i) || RESERVED.test(i))) {
      for (const [name, call] of calls) {
        const logged = queries.length;
        const lines = logger.lines.length;
        const outcome = await call(id).then(
          () => 'completed',
          (error: unknown) => error,
        );
        const where = `${name}(${JSON.stringify(id).slice(0, 60)})`;
        if (outcome instanceof InvalidTenantIdError) refused++;
        else codeProblems.push(`${where}: ${outcome instanceof Error ? `${outcome.constructor.name}: ${outcome.message.slice(0, 120)}` : String(outcome)}`);
        if (queries.length > logged) codeProblems.push(`${where}: ran SQL ${queries[logged]}`);
        // a reserved but well-formed name (public, pg_catalog) may be named; anything else never appears raw
        const raw = id.trim().length > 1 && !WELL_FORMED.test(id);
        if (outcome instanceof Error && raw && outcome.message.includes(id)) codeProblems.push(`${where}: the error message carries the id`);
        if (raw) for (const line of logger.lines.slice(lines).filter((l) => l.includes(id))) codeProblems.push(`${where}: logged raw: ${line.slice(0, 200)}`);
      }
    }
    console.log(`hostile ids in code (${isolation}): ${refused} calls refused as invalid (create, drop, suspend, TenancyService.run); problems ${codeProblems.length}`);
    expect(codeProblems.slice(0, 20)).toEqual([]);
    expect(refused).toBeGreaterThan(3_000);

    expect(await namespaces()).toEqual(before.namespaces);
    expect(await databaseNames()).toEqual(before.databases);
    expect(await tenantRows()).toEqual(before.tenants);
    if (sharedBefore) expect(await sharedTable()).toEqual(sharedBefore);
    // still serving, and still isolating
    const alpha = await app.request('/notes', { method: 'POST', headers: { 'x-tenant-id': 'alpha', 'content-type': 'application/json' }, body: JSON.stringify({ title: 'after the storm' }) });
    expect(alpha.status).toBe(201);
    const beta = await app.request('/notes', { headers: { 'x-tenant-id': 'beta' } });
    expect(beta.status).toBe(200);
    expect(beta.body).toEqual([]);
    if (isolation === 'table') expect(await sql(hubDb, `select tenant_id from note where title = 'after the storm'`)).toEqual([{ tenant_id: 'alpha' }]);

    // the log check above sees what the app logs while answering a request: a note without a title fails, and the app logs that error
    const lines = logger.lines.length;
    const failed = await app.request('/notes', { method: 'POST', headers: { 'x-tenant-id': 'alpha', 'content-type': 'application/json' }, body: '{}' });
    expect({ status: failed.status, logged: logger.lines.slice(lines).some((line) => line.startsWith('error') && line.includes('title')) }).toEqual({ status: 500, logged: true });
  });
});
