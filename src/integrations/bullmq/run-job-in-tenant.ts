import { Logger } from '@nestjs/common';
import { type Job, UnrecoverableError } from 'bullmq';
import { TenancyError } from '../../errors/tenancy.error.js';
import type { TenancyService, TenantRun } from '../../runtime/tenancy.service.js';
import { TENANT_JOB_KEY, tenantOfJob } from './tenant-job-data.js';

const logger = new Logger('TenantJobs');

/**
 * A job that cannot run in its tenant: it carries none, or its tenant is invalid, unknown (dropped) or suspended. An
 * UnrecoverableError, so BullMQ fails it at once instead of spending its attempts on a tenant that will not appear
 * by retrying. `status` is the HTTP status the same tenant would get on a request (400, 403, 404).
 */
export class TenantJobRejectedError extends UnrecoverableError {
  constructor(message: string, readonly status: number, options: { cause?: unknown } = {}) {
    super(message);
    this.name = 'UnrecoverableError'; // BullMQ also recognises it by name (another copy of bullmq)
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

const describe = (job: Job): string => `Job ${job.id ?? '(no id)'} '${job.name}' of queue '${job.queueName}'`;

/**
 * Runs `fn` inside the job's tenant, as `TenancyService.run` does for a request: validated, looked up, fail closed.
 * Entering fails for good (TenantJobRejectedError) when the job has no tenant or its tenant answers 4xx; a 503
 * (tenant database unavailable, pool exhausted, tenant being dropped) is rethrown as is, so the job's own attempts
 * and backoff retry it. Errors of `fn` are never touched: they fail or retry the job as usual, in the same tenant.
 */
export async function runJobInTenant<R>(tenancy: TenancyService, job: Job, fn: (run: TenantRun) => R | Promise<R>): Promise<R> {
  const tenantId = tenantOfJob(job);
  if (tenantId === undefined) {
    const message =
      `${describe(job)} carries no tenant (its data has no "${TENANT_JOB_KEY}" string), so it is not run: a tenant ` +
      `processor never runs a job outside a tenant. Add tenant jobs with TenantQueue#add inside a tenant; central jobs ` +
      `belong on a queue processed by a plain @Processor.`;
    logger.error(message);
    throw new TenantJobRejectedError(message, 400);
  }
  let entered = false;
  try {
    return await tenancy.run(tenantId, (run) => {
      entered = true;
      return fn(run);
    });
  } catch (error) {
    if (entered || !(error instanceof TenancyError) || error.getStatus() >= 500) throw error;
    // the message names the tenant only once it passed the id rules (InvalidTenantIdError never echoes it)
    const message =
      `${describe(job)} was not run: ${error.message} It fails without retry: a job runs only in the tenant it was ` +
      `added in, never in another one or without one. Add it again once the tenant can be served.`;
    logger.warn(message);
    throw new TenantJobRejectedError(message, error.getStatus(), { cause: error });
  }
}
