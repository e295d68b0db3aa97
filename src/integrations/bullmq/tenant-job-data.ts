import type { Job } from 'bullmq';
import { TenantJobDataError } from './tenant-job.errors.js';

/**
 * The key of job data that holds the tenant id. In the data rather than in the job name or options: data is stored
 * with the job and kept by BullMQ on every retry, on delays, in job schedulers' templates and in dashboards, while
 * names are what processors switch on (a prefix would break `switch (job.name)`) and BullMQ has no free-form options.
 */
export const TENANT_JOB_KEY = '__tenant';

/** Job data as stored: yours, plus the tenant it was added in. */
export type TenantJobData<D extends object = object> = D & { readonly [TENANT_JOB_KEY]: string };

/** Your data with the tenant added; refuses data that is not a plain object or already names another tenant. */
export function withTenant<D extends object>(queue: string, jobName: string, data: D, tenantId: string): TenantJobData<D> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TenantJobDataError(queue, jobName, 'its data must be a plain object (the tenant is stored under the key "__tenant")');
  }
  const named = (data as Record<string, unknown>)[TENANT_JOB_KEY];
  if (named !== undefined && named !== tenantId) {
    // never re-target a job to another tenant silently; the named value is not shown (it is not validated)
    throw new TenantJobDataError(queue, jobName, `its data already names another tenant under "${TENANT_JOB_KEY}" than the current one, '${tenantId}'`);
  }
  return { ...data, [TENANT_JOB_KEY]: tenantId };
}

/** The tenant a job was added in, or undefined when it carries none (the value is not validated here). */
export function tenantOfJob(job: Pick<Job, 'data'>): string | undefined {
  const data: unknown = job.data;
  if (data === null || typeof data !== 'object') return undefined;
  const tenant = (data as Record<string, unknown>)[TENANT_JOB_KEY];
  return typeof tenant === 'string' ? tenant : undefined;
}
