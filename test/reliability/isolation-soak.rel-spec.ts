/**
 * Isolation soak: a sustained randomized workload (reads, writes, transactions, awaits between queries, pg_sleep,
 * requests aborted mid-flight) over 52 tenants, in schema and in database isolation, on express and on fastify.
 * Every row carries its tenant's id (`marker`) and every title names the tenant it was sent for, so a row served to
 * or written for the wrong tenant is caught in the responses and, at the end, in PostgreSQL itself.
 * The relational model (joins, m:n pivots, a pivot entity, 1:1, sentinels) is soaked by isolation-soak-relational.rel-spec.ts.
 * It runs to a number of requests (RELIABILITY_SOAK_REQUESTS per mode), not for a time: a busy machine is slower, not laxer.
 */
import { ContextMigrations, MikroTenancyModule, type MikroTenancyModuleOptions, TenantLifecycle, type TenantIsolation } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import type { Platform } from '../support/http-app.js';
import { pick, runConcurrently } from '../support/load.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { type Outcome, newHttpAgent, randomInt, send, startSoakApp } from './support/soak.js';
import { TxNotesController } from './support/tx-notes.controller.js';

/** Requests per isolation mode, split between the platforms. The soak runs to this count, never to a clock. */
const REQUESTS = Number(process.env.RELIABILITY_SOAK_REQUESTS ?? 1200);
/** Only catches a hang: a slow machine takes longer, it never does less work. */
const HANG_TIMEOUT_MS = 600_000;
const TENANT_COUNT = 52;
const CLIENTS = 16;
const PLATFORMS: Platform[] = ['express', 'fastify'];
const TENANTS = Array.from({ length: TENANT_COUNT }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);

interface NoteRow {
  id: number;
  title: string;
  marker: string;
}

interface Figures {
  requests: number;
  ok: number;
  aborted: number;
  errors: string[];
  leaks: string[];
  byKind: Record<string, number>;
}

/** The lifecycle fixture with pools sized for the soak: no request may wait long enough for a pool timeout. */
function soakOptions(isolation: TenantIsolation, hubDb: string, databasePrefix: string): MikroTenancyModuleOptions {
  const base = lifecycleOptions({ isolation, hubDb, databasePrefix });
  const tenancy = base.tenancy!;
  return {
    ...base,
    tenancy: {
      ...tenancy,
      // schema mode: one pool for every tenant; database mode: 2 per open tenant, 20 open of 52 (constant LRU churn)
      config: { ...tenancy.config, pool: { max: isolation === 'schema' ? 8 : 2 } },
      pool: { maxOpenTenants: 20, connectionsPerTenant: 2, acquireTimeoutMs: 10_000 },
    },
  };
}

describe.each<TenantIsolation>(['schema', 'database'])('isolation soak (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('soak');
  let hubDb: string;
  let options: MikroTenancyModuleOptions;
  const metadata = () => ({
    imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')],
    controllers: [NotesController, TxNotesController],
    providers: [NotesService],
  });
  const tableOf = (id: string) => (isolation === 'schema' ? { db: hubDb, table: `"tenant_${id}".note` } : { db: `${databasePrefix}_${id}`, table: 'public.note' });

  beforeAll(async () => {
    hubDb = await databases.create('soakhub');
    options = soakOptions(isolation, hubDb, databasePrefix);
    const started = performance.now();
    const setup = await startSoakApp(metadata(), 'express');
    try {
      expect(await setup.app.get(ContextMigrations).up('hub')).toEqual(['Migration20261121061534_hub']);
      const lifecycle = setup.app.get(TenantLifecycle);
      await runConcurrently(TENANTS.length, 4, (i) => lifecycle.create(TENANTS[i] as string));
    } finally {
      await setup.close();
    }
    process.stdout.write(`[soak ${isolation}] ${TENANTS.length} tenants created in ${Math.round(performance.now() - started)} ms\n`);
  }, 120_000);

  afterAll(async () => {
    await databases.dropAll(databasePrefix);
  });

  it(`serves ${TENANT_COUNT} tenants under a randomized, aborting workload with zero leaks and zero lost acknowledged writes`, async () => {
    /** Acknowledged writes (a 201 whose body was read), per tenant: id -> title. */
    const acked = new Map<string, Map<number, string>>(TENANTS.map((t) => [t, new Map()]));
    const serverErrors: string[] = [];
    const all: Figures[] = [];
    let sequence = 0;

    for (const platform of PLATFORMS) {
      const app = await startSoakApp(metadata(), platform);
      const agent = newHttpAgent();
      const figures: Figures = { requests: 0, ok: 0, aborted: 0, errors: [], leaks: [], byKind: {} };
      const quota = Math.ceil(REQUESTS / PLATFORMS.length);
      let issued = 0;
      const started = performance.now();

      /** Checks every row a response returned; an acknowledged write is remembered for the final check. */
      const check = (tenant: string, kind: string, outcome: Outcome & { kind: 'ok' }, title?: string) => {
        const leak = (row: NoteRow, what: string) => figures.leaks.push(`${kind} as '${tenant}' ${what}: ${JSON.stringify(row)}`);
        const expected = kind === 'write' ? 201 : kind === 'tx' ? 201 : 200;
        if (outcome.status !== expected) {
          figures.errors.push(`${kind} as '${tenant}': HTTP ${outcome.status} ${JSON.stringify(outcome.body).slice(0, 300)}`);
          return;
        }
        const rows: NoteRow[] = [];
        const written: NoteRow[] = [];
        if (kind === 'read') rows.push(...(outcome.body as NoteRow[]));
        if (kind === 'write') written.push(outcome.body as NoteRow);
        if (kind === 'tx') {
          const body = outcome.body as { written: NoteRow[]; seen: NoteRow[] };
          written.push(...body.written);
          rows.push(...body.seen);
        }
        for (const row of [...rows, ...written]) {
          if (row.marker !== tenant) leak(row, 'got a row of another tenant');
          else if (!row.title.startsWith(`${tenant}:`)) leak(row, 'got a row written for another tenant');
        }
        const titles = kind === 'tx' ? [`${title}#a`, `${title}#b`] : [title];
        for (const row of written) {
          if (!titles.includes(row.title)) leak(row, `wrote '${row.title}', asked for ${titles.join(' + ')}`);
          else acked.get(tenant)?.set(row.id, row.title);
        }
      };

      const client = async () => {
        while (issued < quota) {
          issued++;
          const tenant = pick(TENANTS);
          const kind = pick(['read', 'read', 'read', 'write', 'write', 'tx', 'slow'] as const);
          const pause = pick([0, 0, randomInt(1, 10), randomInt(10, 40)]);
          // a quarter of the requests are aborted after 1-40 ms: before sending, mid-query or mid-response
          const abortAfter = Math.random() < 0.25 ? randomInt(1, 40) : undefined;
          const headers = { 'x-tenant-id': tenant };
          const title = `${tenant}:${platform}:${++sequence}`;
          let outcome: Outcome;
          if (kind === 'read') outcome = await send(`${app.url}/notes?pause=${pause}`, { headers, agent }, abortAfter);
          else if (kind === 'write') outcome = await send(`${app.url}/notes?pause=${pause}`, { method: 'POST', headers, json: { title }, agent }, abortAfter);
          else if (kind === 'tx') outcome = await send(`${app.url}/tx-notes?pause=${pause}`, { method: 'POST', headers, json: { title }, agent }, abortAfter);
          else outcome = await send(`${app.url}/slow?ms=${randomInt(5, 40)}`, { headers, agent }, abortAfter);
          figures.requests++;
          figures.byKind[kind] = (figures.byKind[kind] ?? 0) + 1;
          if (outcome.kind === 'aborted') figures.aborted++;
          else if (outcome.kind === 'error') figures.errors.push(`${kind} as '${tenant}': ${outcome.detail}`);
          else {
            figures.ok++;
            if (kind === 'slow') {
              if (outcome.status !== 200) figures.errors.push(`slow as '${tenant}': HTTP ${outcome.status} ${JSON.stringify(outcome.body).slice(0, 300)}`);
            } else check(tenant, kind, outcome, title);
          }
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, client));
      const workloadMs = Math.round(performance.now() - started);
      // let handlers of aborted requests finish before closing (their clients are gone, the server is not)
      await new Promise((resolve) => setTimeout(resolve, 300));
      agent.destroy();
      const closing = performance.now();
      await app.close();
      const closeMs = Math.round(performance.now() - closing);
      serverErrors.push(...app.logger.errors.map((e) => `[${platform}] ${e}`));
      all.push(figures);
      process.stdout.write(
        `[soak ${isolation}/${platform}] ${figures.requests} requests in ${workloadMs} ms (${JSON.stringify(figures.byKind)}): ` +
          `${figures.ok} ok, ${figures.aborted} aborted, ${figures.errors.length} errors, ${figures.leaks.length} leaks; ` +
          `server logged ${app.logger.errors.length} errors, ${app.logger.warnings.length} warnings; close took ${closeMs} ms\n`,
      );
    }

    // PostgreSQL itself: every tenant's table holds only its own rows, and every acknowledged write is there
    let rowsChecked = 0;
    let ackedChecked = 0;
    const foreignRows: string[] = [];
    const lost: string[] = [];
    for (const tenant of TENANTS) {
      const { db, table } = tableOf(tenant);
      const rows = await sql<NoteRow>(db, `select id, title, marker from ${table}`);
      rowsChecked += rows.length;
      const byId = new Map(rows.map((row) => [row.id, row]));
      for (const row of rows) if (row.marker !== tenant || !row.title.startsWith(`${tenant}:`)) foreignRows.push(`${table}: ${JSON.stringify(row)}`);
      for (const [id, title] of acked.get(tenant) ?? []) {
        ackedChecked++;
        if (byId.get(id)?.title !== title) lost.push(`${tenant}: #${id} '${title}' (found ${JSON.stringify(byId.get(id))})`);
      }
    }
    const total = all.reduce((sum, f) => ({ requests: sum.requests + f.requests, ok: sum.ok + f.ok, aborted: sum.aborted + f.aborted }), { requests: 0, ok: 0, aborted: 0 });
    process.stdout.write(
      `[soak ${isolation}] TOTAL ${total.requests} requests: ${total.ok} ok, ${total.aborted} aborted, ${all.flatMap((f) => f.errors).length} errors; ` +
        `${all.flatMap((f) => f.leaks).length} leaks in responses; in PostgreSQL ${rowsChecked} rows checked, ${foreignRows.length} foreign; ` +
        `${ackedChecked} acknowledged writes checked, ${lost.length} lost; server-side errors logged: ${serverErrors.length}\n`,
    );
    if (serverErrors.length) process.stdout.write(`[soak ${isolation}] first server-side errors:\n  ${serverErrors.slice(0, 5).join('\n  ')}\n`);

    expect(all.flatMap((f) => f.leaks)).toEqual([]);
    expect(foreignRows).toEqual([]);
    expect(lost).toEqual([]);
    expect(all.flatMap((f) => f.errors).slice(0, 10)).toEqual([]);
    expect(serverErrors.slice(0, 10)).toEqual([]);
    // the workload really ran (every request answered or aborted), really aborted requests mid-flight (a quarter are
    // scheduled to abort, most of them land) and really wrote (3 kinds of 7 write): shares of the count, not of a time
    expect(total).toEqual({ requests: PLATFORMS.length * Math.ceil(REQUESTS / PLATFORMS.length), ok: total.requests - total.aborted, aborted: total.aborted });
    expect(total.aborted).toBeGreaterThan(REQUESTS / 32);
    expect(ackedChecked).toBeGreaterThan(REQUESTS / 8);
  }, HANG_TIMEOUT_MS);
});
