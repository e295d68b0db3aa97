import { Inject } from '@nestjs/common';
import { Processor, type ProcessorOptions } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { TenancyService } from '../../runtime/tenancy.service.js';
import { runJobInTenant } from './run-job-in-tenant.js';

/** Where the decorator has Nest inject TenancyService: a symbol, so it never collides with your properties. */
const TENANCY = Symbol('TenantProcessor.tenancy');

/** @nestjs/bullmq's NestWorkerOptions (not exported by name): the last overload's second parameter. */
type NestWorkerOptions = Parameters<typeof Processor>[1];

type ProcessFn = (job: Job, token?: string) => Promise<unknown>;

/**
 * `@Processor` whose `process(job)` runs inside the job's tenant (see runJobInTenant): put it instead of
 * `@Processor` on a class that extends WorkerHost. Tenant injected services (the tenant EntityManager, repositories,
 * `TenancyService.current()`) work in `process` as in a request; a job without a valid, known, active tenant fails
 * without retry and never runs. Worker events (`@OnWorkerEvent`) run outside the tenant.
 */
export function TenantProcessor(queue: string | ProcessorOptions, workerOptions?: NestWorkerOptions): ClassDecorator {
  return (target) => {
    const prototype = target.prototype as { process?: ProcessFn };
    const original = prototype.process;
    if (typeof original !== 'function') {
      throw new Error(`@TenantProcessor on ${target.name}: it has no process(job) method. Extend WorkerHost from @nestjs/bullmq and implement process.`);
    }
    Inject(TenancyService)(prototype, TENANCY); // property injection: your constructor stays yours
    Object.defineProperty(prototype, 'process', {
      configurable: true,
      writable: true,
      value: function process(this: Record<symbol, TenancyService>, job: Job, token?: string) {
        return runJobInTenant(this[TENANCY] as TenancyService, job, () => original.call(this, job, token));
      },
    });
    // the overloads of Processor take (name), (name, options), (options) and (options, options)
    (Processor as (q: string | ProcessorOptions, o?: NestWorkerOptions) => ClassDecorator)(queue, workerOptions)(target);
  };
}
