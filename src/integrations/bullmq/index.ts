// nestjs-mikro-tenancy/bullmq: tenant jobs on BullMQ through @nestjs/bullmq (optional peers bullmq, @nestjs/bullmq)
export { TenantQueue, InjectTenantQueue, getTenantQueueToken } from './tenant-queue.js';
export { TenantProcessor } from './tenant-processor.decorator.js';
export { runJobInTenant, TenantJobRejectedError } from './run-job-in-tenant.js';
export { TENANT_JOB_KEY, tenantOfJob, type TenantJobData } from './tenant-job-data.js';
export { NoTenantForJobError, TenantJobDataError } from './tenant-job.errors.js';
