/**
 * GraphQL operations run in their tenant (issue 16), on Apollo (express) and mercurius (fastify), over a real HTTP
 * socket through the real Nest pipeline: the tenant is resolved per operation by the module's resolver chain,
 * writes and reads reach only that tenant's schema (checked by SQL), and refusals come back in GraphQL's error shape.
 */
import { ContextMigrations, TenantLifecycle } from '../../src/index.js';
import { type GraphqlDriverName, graphqlAppMetadata } from '../fixtures/graphql/graphql-app.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { type Platform, type RunningApp, startApp } from '../support/http-app.js';
import { sql, TestDatabases } from '../support/test-databases.js';

const databases = new TestDatabases();
let hubDb: string;

beforeAll(async () => {
  hubDb = await databases.create('gqlhub');
}, 60_000);

afterAll(async () => {
  await databases.dropAll();
});

interface GraphqlAnswer {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string; status?: number } }[] };
}

const SETUPS: [GraphqlDriverName, Platform][] = [
  ['apollo', 'express'],
  ['mercurius', 'fastify'],
];

describe.each(SETUPS)('GraphQL with %s on %s', (driver, platform) => {
  let app: RunningApp;
  const tenantA = `${driver.slice(0, 3)}a`;
  const tenantB = `${driver.slice(0, 3)}b`;

  const graphql = (query: string, tenant?: string): Promise<GraphqlAnswer> =>
    app.request('/graphql', { method: 'POST', json: { query }, headers: tenant === undefined ? {} : { 'x-tenant-id': tenant } }) as Promise<GraphqlAnswer>;

  beforeAll(async () => {
    // the HTTP middleware serves the REST routes only: GraphQL operations get their tenant from the interceptor
    app = await startApp(graphqlAppMetadata(driver, { ...lifecycleOptions({ isolation: 'schema', hubDb }), forRoutes: ['health'] }), platform);
    await app.app.get(ContextMigrations).up('hub');
    for (const id of [tenantA, tenantB]) await app.app.get(TenantLifecycle).create(id);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('resolves the tenant of each operation from its header', async () => {
    expect((await graphql('{ whoami }', tenantA)).body).toEqual({ data: { whoami: tenantA } });
    expect((await graphql('{ whoami }', tenantB)).body).toEqual({ data: { whoami: tenantB } });
    expect((await graphql('{ whoami }')).body).toEqual({ data: { whoami: null } });
  });

  it('writes (mutation) and reads (query) only the tenant of the operation, checked by SQL', async () => {
    const added = await graphql(`mutation { addNote(title: "from ${tenantA}") { title marker } }`, tenantA);
    expect(added.body).toEqual({ data: { addNote: { title: `from ${tenantA}`, marker: tenantA } } });
    expect((await graphql(`mutation { addNote(title: "from ${tenantB}") { marker } }`, tenantB)).body.data).toEqual({ addNote: { marker: tenantB } });
    for (const tenant of [tenantA, tenantB]) {
      const rows = await sql<{ marker: string }>(hubDb, `select marker from "tenant_${tenant}".note`);
      expect(rows.map((r) => r.marker)).toEqual([tenant]);
      const listed = await graphql('{ notes { marker } }', tenant);
      expect(listed.body).toEqual({ data: { notes: [{ marker: tenant }] } });
    }
  });

  it('keeps interleaved operations of two tenants apart', async () => {
    // each operation pauses between its queries, so the other tenant's operations run in between
    const operations = Array.from({ length: 12 }, (_, i) => {
      const tenant = i % 2 === 0 ? tenantA : tenantB;
      const op = i % 3 === 0 ? `mutation { addNote(title: "burst ${i}", pause: 15) { marker } }` : '{ notes(pause: 15) { marker } }';
      return graphql(op, tenant).then((answer) => ({ tenant, answer }));
    });
    for (const { tenant, answer } of await Promise.all(operations)) {
      expect(answer.body.errors).toBeUndefined();
      const rows = Object.values(answer.body.data ?? {}).flat() as { marker: string }[];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((row) => row.marker === tenant)).toBe(true);
    }
    const wrong = await sql<{ n: string }>(
      hubDb,
      `select (select count(*) from "tenant_${tenantA}".note where marker <> $1) + (select count(*) from "tenant_${tenantB}".note where marker <> $2) as n`,
      [tenantA, tenantB],
    );
    expect(Number(wrong[0]?.n)).toBe(0);
  });

  it('answers an unknown tenant with a NOT_FOUND GraphQL error', async () => {
    const answer = await graphql('{ notes { id } }', 'nosuchtenant');
    expect(answer.body.data ?? null).toBeNull();
    expect(answer.body.errors).toEqual([
      expect.objectContaining({ message: expect.stringContaining("Unknown tenant 'nosuchtenant'"), extensions: expect.objectContaining({ code: 'NOT_FOUND', status: 404 }) }),
    ]);
  });

  it('answers an invalid tenant id with a BAD_REQUEST GraphQL error that does not echo it', async () => {
    const answer = await graphql('{ notes { id } }', 'Bad;Id');
    expect(answer.body.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_REQUEST', status: 400 }) })]);
    expect(answer.body.errors?.[0]?.message).toMatch(/^Invalid tenant id: it has characters that are not allowed/);
    expect(JSON.stringify(answer.body)).not.toContain('Bad;Id');
  });

  it('fails closed without a tenant: the tenant EntityManager refuses, as a BAD_REQUEST GraphQL error (no SQL, no 500)', async () => {
    const answer = await graphql('{ notes { id } }');
    expect(answer.status).toBeLessThan(500);
    expect(answer.body.errors).toEqual([
      expect.objectContaining({ message: expect.stringContaining('No tenant is active'), extensions: expect.objectContaining({ code: 'BAD_REQUEST', status: 400 }) }),
    ]);
  });
});

describe('GraphQL through the HTTP middleware alone (no interceptor)', () => {
  it.each(SETUPS)('%s on %s: the middleware runs for /graphql and its scope reaches resolvers, but refusals are HTTP-shaped', async (driver, platform) => {
    const tenant = `${driver.slice(0, 3)}a`;
    const app = await startApp(graphqlAppMetadata(driver, lifecycleOptions({ isolation: 'schema', hubDb }), false), platform);
    try {
      const post = (headers: Record<string, string>) => app.request('/graphql', { method: 'POST', json: { query: '{ whoami notes { marker } }' }, headers });
      const served = await post({ 'x-tenant-id': tenant });
      expect(served.body.data.whoami).toBe(tenant);
      expect(served.body.data.notes.every((n: { marker: string }) => n.marker === tenant)).toBe(true);
      // what TenantGraphqlInterceptor is for: the middleware refuses before GraphQL runs, as a plain HTTP 404
      const refused = await post({ 'x-tenant-id': 'nosuchtenant' });
      expect(refused.status).toBe(404);
      expect(refused.body.errors).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
