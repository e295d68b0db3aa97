/**
 * 1000+ hostile tenant ids through every resolver (header, subdomain, path, query), in both isolation modes:
 * every answer is 400 or 404, a 400 runs no SQL at all, a 404 runs only the tenant lookup with a well-formed id
 * (checked in the ORM's query log), no schema or database appears, and the app keeps serving real tenants.
 */
import { ContextMigrations, MikroTenancyModule, TenantLifecycle, TenantResolvers, type TenantIsolation } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
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

describe.each<TenantIsolation>(['schema', 'database'])('hostile tenant ids (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('hi');
  const queries: string[] = [];
  let hubDb: string;
  let app: RunningApp;
  let port: number;

  const namespaces = async () => (await sql<{ n: string }>(hubDb, 'select nspname as n from pg_namespace order by 1')).map((r) => r.n);
  const databaseNames = async () => (await sql<{ d: string }>('postgres', 'select datname as d from pg_database order by 1')).map((r) => r.d);

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
    app = await startApp({
      imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')],
      controllers: [NotesController],
      providers: [NotesService],
    });
    port = Number(new URL(app.url).port);
    await app.app.get(ContextMigrations).up('hub');
    for (const id of ['alpha', 'beta']) await app.app.get(TenantLifecycle).create(id);
  });

  afterAll(async () => {
    await app?.close();
    await databases.dropAll(databasePrefix);
  });

  it('answers every hostile id with 400 or 404, runs no SQL with it, creates nothing and stays up', async () => {
    const corpus = hostileIds();
    expect(corpus.length).toBeGreaterThanOrEqual(1000);
    const before = { namespaces: await namespaces(), databases: await databaseNames() };

    const statuses = new Map<number, number>();
    const problems: string[] = [];
    let sent = 0;
    let lookupsLogged = 0; // proves the query log sees the lookups (the cache is off in this fixture)
    for (const transport of TRANSPORTS) {
      for (const id of [...corpus, ...UNKNOWN_WELL_FORMED]) {
        if (!sendable(transport, id)) continue;
        const { target, headers } = requestFor(transport, id);
        const logged = queries.length;
        const status = await rawGet(port, target, headers);
        sent++;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const ran = queries.slice(logged);
        if (status === 404 && ran.length) lookupsLogged++;
        const where = `${transport} ${JSON.stringify(id).slice(0, 80)}`;
        if (status !== 400 && status !== 404) problems.push(`${where}: status ${status}`);
        if (status === 400 && ran.length) problems.push(`${where}: 400 but ran SQL: ${ran[0]}`);
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
    console.log(`hostile ids (${isolation}): ${corpus.length} ids + ${UNKNOWN_WELL_FORMED.length} unknown well-formed, ${sent} requests over ${TRANSPORTS.join('/')}; statuses ${JSON.stringify(Object.fromEntries(statuses))}; lookups seen in the query log ${lookupsLogged}; problems ${problems.length}`);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(lookupsLogged).toBeGreaterThanOrEqual(UNKNOWN_WELL_FORMED.length); // well-formed unknown ids reached the lookup

    expect(await namespaces()).toEqual(before.namespaces);
    expect(await databaseNames()).toEqual(before.databases);
    // still serving, and still isolating
    const alpha = await app.request('/notes', { method: 'POST', headers: { 'x-tenant-id': 'alpha' }, json: { title: 'after the storm' } });
    expect(alpha.status).toBe(201);
    const beta = await app.request('/notes', { headers: { 'x-tenant-id': 'beta' } });
    expect(beta.status).toBe(200);
    expect(beta.body).toEqual([]);
  });
});
