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
});
