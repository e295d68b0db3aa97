/**
 * Database mode: a client that disconnects while its handler is still querying must not give the tenant back
 * early. Otherwise a request for another tenant evicts and closes that ORM under the running handler (a failed
 * query, and a close that never finishes because the driver keeps a connection), and the pool stops serving.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextMigrations, MikroTenancyModule, TenantLifecycle } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { TestDatabases, uniqueName } from '../support/test-databases.js';
import { type SoakApp, startSoakApp } from './support/soak.js';

describe.each(['express', 'fastify'] as const)('tenant lease when the client disconnects mid-request (database isolation, %s)', (adapter) => {
  const databases = new TestDatabases();
  const prefix = uniqueName('ld');
  let app: SoakApp;

  beforeAll(async () => {
    const hubDb = await databases.create('ldhub');
    const options = lifecycleOptions({ isolation: 'database', hubDb, databasePrefix: prefix });
    // one open tenant at a time: any request for another tenant must evict the first
    options.tenancy = { ...options.tenancy!, pool: { maxOpenTenants: 1, acquireTimeoutMs: 3_000, connectionsPerTenant: 2 } };
    app = await startSoakApp(
      { imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')], controllers: [NotesController], providers: [NotesService] },
      adapter,
    );
    await app.app.get(ContextMigrations).up('hub');
    for (const id of ['la', 'lb']) await app.app.get(TenantLifecycle).create(id);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await databases.dropAll(prefix);
  });

  it('keeps the tenant until its handler finishes, then serves the next tenant', async () => {
    for (let round = 0; round < 5; round++) {
      const errorsBefore = app.logger.errors.length;
      // la's handler queries, pauses 400 ms, queries again; its client gives up after 100 ms
      const aborted = fetch(`${app.url}/notes?pause=400`, { headers: { 'x-tenant-id': 'la' }, signal: AbortSignal.timeout(100) }).catch((e: Error) => e.name);
      await sleep(150);
      const started = performance.now();
      const other = await fetch(`${app.url}/notes`, { headers: { 'x-tenant-id': 'lb' } });
      const waited = performance.now() - started;
      expect(await aborted).toBe('TimeoutError');
      expect(other.status).toBe(200);
      // lb had to wait for la's handler (≈250 ms left), not evict la under it
      expect(waited).toBeGreaterThan(150);
      await sleep(50);
      expect(app.logger.errors.slice(errorsBefore)).toEqual([]);
      // and la still works afterwards
      expect((await fetch(`${app.url}/notes`, { headers: { 'x-tenant-id': 'la' } })).status).toBe(200);
    }
  }, 30_000);
});
