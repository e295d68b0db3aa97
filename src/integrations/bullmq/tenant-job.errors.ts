import { HttpStatus } from '@nestjs/common';
import { TenancyError } from '../../errors/tenancy.error.js';

/** A tenant job was added where no tenant is active: it would run nowhere (or, worse, somewhere). */
export class NoTenantForJobError extends TenancyError {
  constructor(queue: string, jobName: string) {
    super(
      `Job '${jobName}' of queue '${queue}' was added where no tenant is active, so it has no tenant to run in. Add it ` +
        `while serving a tenant (a request with a tenant, TenancyService.run(tenantId, fn)), or for every tenant with ` +
        `TenancyService.forEachTenant (see docs/jobs-and-messages.md); central work belongs on a queue of its own.`,
      HttpStatus.BAD_REQUEST,
      'Bad Request',
    );
  }
}

/** The job's data cannot carry the tenant: not a plain object, or it already names another tenant. */
export class TenantJobDataError extends TenancyError {
  constructor(queue: string, jobName: string, problem: string) {
    super(`Job '${jobName}' of queue '${queue}' cannot be added for a tenant: ${problem}.`, HttpStatus.BAD_REQUEST, 'Bad Request');
  }
}
