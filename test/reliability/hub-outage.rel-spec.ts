/**
 * The hub (the PostgreSQL cluster holding the tenant table, TenantStores.table) goes down while the tenants' own
 * server stays up (issue 17, stale-if-error): tenants looked up before keep answering 200 from their cached lookup
 * for cacheTtlMs + staleIfErrorMs after the hub last answered, then 503; ids never looked up answer 503 at once;
 * a cached "unknown" stays 404; once the hub is back every lookup is fresh again (a tenant created meanwhile is found).
 *
 * Printed: how long known tenants were served stale, how fast ids not cached were refused, how long recovery took.
 */
import { MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { MikroTenancyModule, TenantStores } from '../../src/index.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/embedded-postgres.js';
import { tenantTemplate } from '../fixtures/configs.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { Tenant } from '../fixtures/entities/tenant.entity.js';
import { NotesController, NotesService, provisionSchemas } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases } from '../support/test-databases.js';

const KNOWN = ['ho1', 'ho2', 'ho3'];
/** Looked up before the outage as unknown (404): stays 404 while served stale. */
const GHOST = 'hoghost';
/** Never looked up before the outage; created in the hub once it is back. */
const LATE = 'holate';
const CACHE_TTL_MS = 200;
const STALE_IF_ERROR_MS = 3_000;
/** Room for scheduling on a busy 2-core machine around the bound, either side. */
const SLACK_MS = 400;
const REFUSED_WITHIN_MS = 2_000;
const RECOVERY_MS = 20_000;

interface Answer {
  id: string;
  status: number;
  message?: string;
  /** When the request was sent and answered, in ms since the hub last answered a lookup of every known tenant. */
  sentAt: number;
  ms: number;
}

describe('the hub database down (schema isolation, stale-if-error)', () => {
  const databases = new TestDatabases();
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => void crashes.push(error);
  let hub: EmbeddedPostgres;
  let hubUrl: URL;
  let tenantsDb: string;
  let app: RunningApp;

  const hubSql = async (text: string, values?: unknown[]): Promise<void> => {
    const client = new pg.Client({ connectionString: hubUrl.toString() });
    await client.connect();
    try {
      await client.query(text, values);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    // the hub: a cluster of its own, since this file stops it; the tenants' schemas stay on the usual test server
    hub = await startEmbeddedPostgres();
    hubUrl = new URL(hub.url);
    hubUrl.pathname = '/hub';
    const admin = new pg.Client({ connectionString: hub.url });
    await admin.connect();
    await admin.query('create database hub');
    await admin.end();
    const hubConfig = defineConfig({
      metadataProvider: ReflectMetadataProvider,
      host: hubUrl.hostname,
      port: Number(hubUrl.port),
      user: 'postgres',
      dbName: 'hub',
      entities: [Tenant],
      pool: { max: 4 },
    });
    const orm = await MikroORM.init(hubConfig);
    await orm.schema.create();
    await orm.em.fork().insertMany(Tenant, KNOWN.map((id) => ({ id, suspended: false })));
    await orm.close();

    tenantsDb = await databases.create('hotenants');
    const template = await MikroORM.init(tenantTemplate(tenantsDb));
    await provisionSchemas(template, [...KNOWN, LATE].map((id) => `tenant_${id}`));
    await template.close();

    app = await startApp({
      imports: [
        MikroTenancyModule.forRoot({
          contexts: { default: hubConfig },
          tenancy: {
            isolation: 'schema',
            config: tenantTemplate(tenantsDb),
            store: TenantStores.table(Tenant),
            cacheTtlMs: CACHE_TTL_MS,
            staleIfErrorMs: STALE_IF_ERROR_MS,
          },
        }),
        MikroTenancyModule.forFeature([Note], 'tenant'),
      ],
      controllers: [NotesController],
      providers: [NotesService],
    });
  }, 120_000);

  afterAll(async () => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
    await app?.close();
    await hub?.stop();
    await databases.dropAll();
  });

  it('serves known tenants stale for the configured window, refuses the others with 503, and recovers', async () => {
    let origin = 0;
    const ask = async (id: string): Promise<Answer> => {
      const sent = performance.now();
      const { status, body } = await app.request('/notes', { headers: { 'x-tenant-id': id }, signal: AbortSignal.timeout(10_000) });
      return { id, status, message: (body as { message?: string } | undefined)?.message, sentAt: sent - origin, ms: performance.now() - sent };
    };
    const askAll = (ids: string[]) => Promise.all(ids.map(ask));

    // warm: every lookup answered by the hub, the last ones once their previous lookups expired
    expect((await askAll(KNOWN)).map((a) => a.status)).toEqual([200, 200, 200]);
    expect((await ask(GHOST)).status).toBe(404);
    await sleep(CACHE_TTL_MS + 50);
    origin = performance.now(); // the hub answers these lookups after this instant: the stale bound counts from later
    expect((await askAll([...KNOWN, GHOST])).map((a) => a.status)).toEqual([200, 200, 200, 404]);
    const freshBy = performance.now() - origin; // ...and before this one

    await hub.pause('fast');
    const downAt = performance.now() - origin;
    expect(downAt).toBeLessThan(STALE_IF_ERROR_MS - 1_000); // else the window below would be mostly spent pausing

    // during the outage: known tenants (and the cached unknown) until they are refused, ids never looked up at once
    const answers: Answer[] = [];
    const deadline = CACHE_TTL_MS + STALE_IF_ERROR_MS + freshBy + 5_000;
    while (performance.now() - origin < deadline) {
      answers.push(...(await askAll([...KNOWN, GHOST, LATE])));
      if (KNOWN.every((id) => answers.some((a) => a.id === id && a.status === 503 && a.sentAt > downAt))) break;
      await sleep(100);
    }
    const bound = CACHE_TTL_MS + STALE_IF_ERROR_MS;
    const known = answers.filter((a) => KNOWN.includes(a.id));
    const lastStale = Math.max(...known.filter((a) => a.status === 200).map((a) => a.sentAt + a.ms));
    const firstRefused = Math.min(...known.filter((a) => a.status === 503).map((a) => a.sentAt));
    const late = answers.filter((a) => a.id === LATE);
    const ghost = answers.filter((a) => a.id === GHOST);

    // the hub was down, and known tenants were served all the same, up to the bound and not past it
    expect(late.length).toBeGreaterThan(0);
    expect(known.filter((a) => a.sentAt + a.ms < bound - SLACK_MS).map((a) => a.status).every((s) => s === 200)).toBe(true);
    expect(known.filter((a) => a.sentAt > bound + freshBy + SLACK_MS).map((a) => a.status).every((s) => s === 503)).toBe(true);
    expect(lastStale).toBeGreaterThan(bound - SLACK_MS);
    expect(firstRefused).toBeLessThan(bound + freshBy + SLACK_MS);
    expect(new Set(known.map((a) => a.status))).toEqual(new Set([200, 503]));
    // ids not cached: 503 (the hub's failure mapped as before), fast, all along
    expect(late.every((a) => a.status === 503 && /^The database is unavailable/.test(a.message ?? ''))).toBe(true);
    expect(Math.max(...late.map((a) => a.ms))).toBeLessThan(REFUSED_WITHIN_MS);
    // a cached "unknown" stays a 404 while it is served stale, then becomes 503 like the others
    expect(ghost.filter((a) => a.sentAt + a.ms < bound - SLACK_MS).every((a) => a.status === 404)).toBe(true);
    expect(ghost.filter((a) => a.sentAt > bound + freshBy + SLACK_MS).every((a) => a.status === 503)).toBe(true);
    expect(known.filter((a) => a.status === 503).every((a) => /^The database is unavailable/.test(a.message ?? ''))).toBe(true);

    // back: fresh lookups for everyone, and a tenant created meanwhile is found
    const upAt = performance.now();
    await hub.resume();
    let recovered = false;
    while (!recovered && performance.now() - upAt < RECOVERY_MS) {
      recovered = (await askAll(KNOWN)).every((a) => a.status === 200);
      if (!recovered) await sleep(100);
    }
    const recoveredMs = performance.now() - upAt;
    await hubSql('insert into tenant (id, suspended) values ($1, false)', [LATE]);
    const created = await ask(LATE);
    const afterwards = await askAll([...KNOWN, GHOST]);

    const statuses = (list: Answer[]) => JSON.stringify(countBy(list.map((a) => String(a.status))));
    console.log(
      `hub outage (cacheTtlMs ${CACHE_TTL_MS}, staleIfErrorMs ${STALE_IF_ERROR_MS}, bound ${bound} ms): hub down ${Math.round(downAt)} ms ` +
        `after the last fresh lookups (taken within ${Math.round(freshBy)} ms); known tenants ${statuses(known)}, served stale until ` +
        `${Math.round(lastStale)} ms, first refused at ${Math.round(firstRefused)} ms; ids not cached ${statuses(late)}, slowest ` +
        `${Math.round(Math.max(...late.map((a) => a.ms)))} ms; cached unknown ${statuses(ghost)}; recovered ${Math.round(recoveredMs)} ms after ` +
        `the restart (resume included); created tenant after: ${created.status}`,
    );

    expect(recovered).toBe(true);
    expect(created.status).toBe(200);
    expect(afterwards.map((a) => a.status)).toEqual([200, 200, 200, 404]);
    expect(crashes).toEqual([]);
  }, 60_000);
});

function countBy(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}
