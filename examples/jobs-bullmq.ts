import { NotesService } from './notes.js';
import { AppModule } from './tenancy.module.js';

import { BullModule, Processor, WorkerHost } from '@nestjs/bullmq';
import { Injectable, Module } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { TenancyService } from 'nestjs-mikro-tenancy';
import { InjectTenantQueue, TenantProcessor, TenantQueue } from 'nestjs-mikro-tenancy/bullmq';

interface NoteJob {
  title: string;
}

@Injectable()
export class NoteJobs {
  constructor(@InjectTenantQueue('notes') private readonly queue: TenantQueue<NoteJob>) {}

  // in a request with a tenant (or TenancyService.run): the job carries it, stored as data.__tenant
  add(title: string) {
    return this.queue.add('note', { title }, { attempts: 3, backoff: { type: 'exponential', delay: 1000 } });
  }
}

@TenantProcessor('notes') // instead of @Processor('notes'): process(job) runs in the job's tenant
export class NotesProcessor extends WorkerHost {
  constructor(private readonly notes: NotesService) {
    super();
  }

  async process(job: Job<NoteJob>) {
    // the tenant EntityManager, tenant repositories and TenancyService.current() are the job's tenant here
    const note = await this.notes.add(job.data.title);
    return { noteId: note.id };
  }
}

@Processor('nightly') // central: a plain processor, its jobs carry no tenant
export class NightlyDigest extends WorkerHost {
  constructor(
    private readonly tenancy: TenancyService,
    @InjectTenantQueue('notes') private readonly notes: TenantQueue<NoteJob>,
  ) {
    super();
  }

  // one tenant job per active tenant, 4 tenants at a time; the job id makes a retried fan-out add no duplicate
  async process(job: Job) {
    const run = String(job.id).replaceAll(':', '_'); // BullMQ refuses ':' in custom job ids
    await this.tenancy.forEachTenant(
      (tenant) => this.notes.add('note', { title: 'nightly digest' }, { jobId: `digest-${tenant.id}-${run}` }),
      { concurrency: 4 },
    );
  }
}

// once at boot (idempotent): the fan-out job every night at 03:00
export async function scheduleNightlyDigest(nightly: Queue) {
  await nightly.upsertJobScheduler('nightly-digest', { pattern: '0 3 * * *' }, { name: 'fan-out' });
}

@Module({
  imports: [
    AppModule, // MikroTenancyModule.forRoot({ ..., tenancy: { ... } }) and forFeature([Note], 'tenant')
    BullModule.forRoot({ connection: { host: 'localhost', port: 6379 } }),
    BullModule.registerQueue({ name: 'notes' }, { name: 'nightly' }),
  ],
  providers: [NotesService, TenantQueue.provider('notes'), NoteJobs, NotesProcessor, NightlyDigest],
})
export class JobsModule {}
