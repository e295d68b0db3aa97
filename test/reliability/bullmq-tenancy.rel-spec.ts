/**
 * Tenant jobs on BullMQ (issue 16), against a real redis-server and the real PostgreSQL, in both isolation modes: a job
 * added in a tenant (from an HTTP request, or TenancyService.run) is processed in that tenant only (rows checked
 * with SQL), also in a concurrent burst over several tenants and across a retry; a job whose tenant was dropped or
 * suspended, or that carries no or a hostile tenant, fails at once without retry and writes nothing; the fan-out
 * pattern enqueues one job per active tenant, and a repeated fan-out run adds no duplicate.
 */
import { BullModule, getQueueToken } from '@nestjs/bullmq';
import type { Job, Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextMigrations, MikroTenancyModule, TenancyService, TenantLifecycle, type TenantIsolation } from '../../src/index.js';
import { NoTenantForJobError, TENANT_JOB_KEY, TenantQueue } from '../../src/integrations/bullmq/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { CRON_QUEUE, DigestFanOut, NOTES_QUEUE, type NoteJob, NoteJobs, NoteJobsController, NotesProcessor } from '../fixtures/jobs/notes-jobs.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql, uniqueName } from '../support/test-databases.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

const ACTIVE = ['ja', 'jb', 'jc', 'jd'];

describe.each<TenantIsolation>(['schema', 'database'])('BullMQ tenant jobs (%s isolation)', (isolation) => {
  const databases = new TestDatabases();
  const databasePrefix = uniqueName('bq');
  let hubDb: string;
  let redis: RedisServer;
  let app: RunningApp;
  let queue: Queue;
  let cron: Queue;
  let tenancy: TenancyService;

  /** Fails with redis-server's log attached, so a Redis-side problem is visible in the test output. */
  const withRedisLog = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (error) {
      if (error instanceof Error) error.message += `\n--- redis-server log ---\n${redis?.log() ?? '(not started)'}`;
      throw error;
    }
  };

  /** Waits until the job is completed or failed (no time is asserted: the deadline only stops a hung test). */
  const settled = async (from: Queue, id: string | undefined): Promise<Job> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const state = id === undefined ? 'missing' : await from.getJobState(id);
      // read the job after its state is final: a job read before holds no return value or failure yet
      const job = state === 'completed' || state === 'failed' ? await from.getJob(id as string) : undefined;
      if (job) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} of queue ${from.name} is still ${state}`);
      await sleep(20);
    }
  };

  /** [marker, title] of every note stored in the tenant's own schema or database, read with SQL. */
  const notesIn = async (id: string): Promise<[string, string][]> => {
    const rows =
      isolation === 'schema'
        ? await sql<{ marker: string; title: string }>(hubDb, `select marker, title from "tenant_${id}".note order by id`)
        : await sql<{ marker: string; title: string }>(`${databasePrefix}_${id}`, 'select marker, title from note order by id');
    return rows.map((r) => [r.marker, r.title]);
  };

  const addIn = (tenant: string, data: NoteJob, attempts = 1) => tenancy.run(tenant, () => app.app.get(NoteJobs).add(data, attempts));

  beforeAll(async () => {
    redis = await startRedis();
    hubDb = await databases.create('bqhub');
    app = await startApp({
      imports: [
        MikroTenancyModule.forRoot(lifecycleOptions({ isolation, hubDb, databasePrefix })),
        MikroTenancyModule.forFeature([Note], 'tenant'),
        BullModule.forRoot({ connection: { host: redis.host, port: redis.port }, prefix: `nmt-${isolation}` }),
        BullModule.registerQueue({ name: NOTES_QUEUE }, { name: CRON_QUEUE }),
      ],
      controllers: [NoteJobsController],
      providers: [NotesService, TenantQueue.provider(NOTES_QUEUE), NoteJobs, NotesProcessor, DigestFanOut],
    });
    queue = app.app.get(getQueueToken(NOTES_QUEUE));
    cron = app.app.get(getQueueToken(CRON_QUEUE));
    tenancy = app.app.get(TenancyService);
    await app.app.get(ContextMigrations).up('hub');
    const lifecycle = app.app.get(TenantLifecycle);
    for (const id of [...ACTIVE, 'jsus', 'jgone']) await lifecycle.create(id);
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    await databases.dropAll(databasePrefix);
  });

  it('a job added by a request with a tenant is processed in that tenant only', withRedisLog(async () => {
    const fromA = await app.request('/jobs', { method: 'POST', headers: { 'x-tenant-id': 'ja' }, json: { title: 'from a' } });
    const fromB = await app.request('/jobs', { method: 'POST', headers: { 'x-tenant-id': 'jb' }, json: { title: 'from b' } });
    expect([fromA.status, fromB.status]).toEqual([201, 201]);
    const [a, b] = [await settled(queue, fromA.body.jobId), await settled(queue, fromB.body.jobId)];
    expect(a.data).toEqual({ title: 'from a', [TENANT_JOB_KEY]: 'ja' }); // the tenant went in without being written
    expect([a.returnvalue.tenant, b.returnvalue.tenant]).toEqual(['ja', 'jb']);
    expect(await notesIn('ja')).toEqual([['ja', 'from a (attempt 1)']]);
    expect(await notesIn('jb')).toEqual([['jb', 'from b (attempt 1)']]);
    expect(await notesIn('jc')).toEqual([]);
  }));

  it('a burst of 80 jobs over 4 tenants, processed 8 at a time, leaves 0 rows in the wrong tenant', withRedisLog(async () => {
    const before = new Map(await Promise.all(ACTIVE.map(async (id) => [id, (await notesIn(id)).length] as const)));
    const jobs = await Promise.all(Array.from({ length: 80 }, (_, i) => addIn(ACTIVE[i % 4] as string, { title: `burst ${i}` })));
    const done = await Promise.all(jobs.map((job) => settled(queue, job.id)));
    expect(done.filter((job) => job.failedReason)).toEqual([]);
    expect(done.every((job) => job.returnvalue.tenant === job.data[TENANT_JOB_KEY])).toBe(true);
    for (const id of ACTIVE) {
      const notes = await notesIn(id);
      expect({ id, wrong: notes.filter(([marker]) => marker !== id) }).toEqual({ id, wrong: [] });
      expect(notes.length - (before.get(id) ?? 0)).toBe(20);
    }
  }));

  it('a retried job keeps its tenant', withRedisLog(async () => {
    const job = await settled(queue, (await addIn('jc', { title: 'flaky', failFirstAttempt: true }, 3)).id);
    expect(job.failedReason ?? null).toBe('the first attempt fails on purpose'); // kept from the failed first attempt
    expect(await job.getState()).toBe('completed');
    expect(job.returnvalue.tenant).toBe('jc');
    expect((await notesIn('jc')).filter(([, title]) => title.startsWith('flaky'))).toEqual([['jc', 'flaky (attempt 2)']]);
  }));

  it('a job whose tenant was dropped or suspended fails at once, without retry, with a clear error, and writes nothing', withRedisLog(async () => {
    await queue.pause(); // the jobs wait in Redis while their tenants go away
    const gone = await addIn('jgone', { title: 'for a dropped tenant' }, 5);
    const suspended = await addIn('jsus', { title: 'for a suspended tenant' }, 5);
    await app.app.get(TenantLifecycle).drop('jgone', { confirm: 'jgone' });
    await sql(hubDb, `update tenant set suspended = true where id = 'jsus'`);
    await queue.resume();
    const [g, s] = [await settled(queue, gone.id), await settled(queue, suspended.id)];
    expect(await g.getState()).toBe('failed');
    expect(g.attemptsMade).toBe(1); // 5 attempts allowed, 1 made: an UnrecoverableError is not retried
    expect(g.failedReason).toContain(`Job ${gone.id} 'note' of queue '${NOTES_QUEUE}' was not run: Unknown tenant 'jgone'`);
    expect(g.failedReason).toContain('It fails without retry');
    expect(await s.getState()).toBe('failed');
    expect(s.attemptsMade).toBe(1);
    expect(s.failedReason).toContain("Tenant 'jsus' is suspended.");
    expect(await notesIn('jsus')).toEqual([]);
    for (const id of ACTIVE) expect((await notesIn(id)).filter(([, title]) => title.startsWith('for a'))).toEqual([]);
  }));

  it('a job without a tenant or with a hostile one never runs; adding one outside a tenant throws', withRedisLog(async () => {
    const none = await settled(queue, (await queue.add('note', { title: 'no tenant' }, { attempts: 3 })).id);
    expect(none.failedReason).toContain(`carries no tenant (its data has no "${TENANT_JOB_KEY}" string), so it is not run`);
    expect(none.attemptsMade).toBe(1);
    const hostile = await settled(queue, (await queue.add('note', { title: 'hostile', [TENANT_JOB_KEY]: "ja'; drop table note; --" })).id);
    expect(hostile.failedReason).toContain('Invalid tenant id: it has characters that are not allowed');
    expect(hostile.failedReason).not.toContain('drop table');
    await expect(app.app.get(NoteJobs).add({ title: 'central' })).rejects.toThrow(NoTenantForJobError);
    await expect(app.app.get(NoteJobs).add({ title: 'central' })).rejects.toThrow("Job 'note' of queue 'notes' was added where no tenant is active");
    for (const id of ACTIVE) expect((await notesIn(id)).filter(([, title]) => ['no tenant', 'hostile'].some((t) => title.startsWith(t)))).toEqual([]);
  }));

  it('the repeatable fan-out job enqueues one job per active tenant; running it again adds no duplicate', withRedisLog(async () => {
    const scheduled = await cron.upsertJobScheduler('nightly-digest', { every: 3_600_000 }, { name: 'fan-out' });
    const fanOut = await settled(cron, scheduled.id);
    expect(fanOut.failedReason ?? null).toBeNull();
    expect(fanOut.returnvalue).toEqual(ACTIVE); // not the suspended tenant, not the dropped one
    await cron.removeJobScheduler('nightly-digest');
    const run = String(fanOut.id).replace(/:/g, '_');
    const digests = await Promise.all(ACTIVE.map((id) => settled(queue, `digest-${id}-${run}`)));
    expect(digests.map((job) => job.returnvalue.tenant)).toEqual(ACTIVE);
    await app.app.get(DigestFanOut).process(fanOut); // the same run again (a retry): job ids make it a no-op
    expect(await queue.getJobCounts('waiting', 'active', 'delayed')).toEqual({ waiting: 0, active: 0, delayed: 0 });
    for (const id of ACTIVE) {
      expect((await notesIn(id)).filter(([, title]) => title.startsWith('digest'))).toEqual([[id, 'digest (attempt 1)']]);
    }
  }));
});
