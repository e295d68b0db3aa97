import { Inject, type Provider } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import type { Job, JobsOptions, Queue } from 'bullmq';
import { TenancyService } from '../../runtime/tenancy.service.js';
import { NoTenantForJobError } from './tenant-job.errors.js';
import { type TenantJobData, withTenant } from './tenant-job-data.js';

/** The injection token of the TenantQueue for a queue registered with BullModule.registerQueue({ name }). */
export const getTenantQueueToken = (queueName: string): string => `TenantQueue:${queueName}`;

/** Injects the TenantQueue of `queueName` (provide it with `TenantQueue.provider(queueName)`). */
export const InjectTenantQueue = (queueName: string): ParameterDecorator & PropertyDecorator => Inject(getTenantQueueToken(queueName));

/**
 * A BullMQ queue whose jobs carry the tenant they were added in: `add()` reads the current tenant (a request's,
 * `TenancyService.run`'s, `forEachTenant`'s) and stores it in the job data under `__tenant`, so you never write it.
 * Outside a tenant it throws instead of adding a job that would run nowhere. `queue` is the plain BullMQ queue.
 */
export class TenantQueue<D extends object = object> {
  constructor(readonly queue: Queue, private readonly tenancy: TenancyService) {}

  /** A provider of the TenantQueue of `queueName`; the queue itself comes from BullModule.registerQueue. */
  static provider(queueName: string): Provider {
    return {
      provide: getTenantQueueToken(queueName),
      useFactory: (queue: Queue, tenancy: TenancyService) => new TenantQueue(queue, tenancy),
      inject: [getQueueToken(queueName), TenancyService],
    };
  }

  /** Adds a job for the current tenant. */
  async add(name: string, data: D, opts?: JobsOptions): Promise<Job<TenantJobData<D>>> {
    return (await this.queue.add(name, this.dataFor(name, data), opts)) as Job<TenantJobData<D>>;
  }

  /** Adds several jobs for the current tenant, atomically (BullMQ's addBulk). */
  async addBulk(jobs: { name: string; data: D; opts?: JobsOptions }[]): Promise<Job<TenantJobData<D>>[]> {
    const tagged = jobs.map((job) => ({ ...job, data: this.dataFor(job.name, job.data) }));
    return (await this.queue.addBulk(tagged as Parameters<Queue['addBulk']>[0])) as Job<TenantJobData<D>>[];
  }

  private dataFor(name: string, data: D): TenantJobData<D> {
    const tenant = this.tenancy.currentOrUndefined();
    if (!tenant) throw new NoTenantForJobError(this.queue.name, name);
    return withTenant(this.queue.name, name, data, tenant.id);
  }
}
