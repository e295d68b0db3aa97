import { TenancyError } from '../errors/tenancy.error.js';

/** The template tenant's schema holds something the schema clone does not copy faithfully: it refuses rather than guess. */
export class TemplateNotCloneableError extends TenancyError {
  constructor(templateSchema: string, objects: string[]) {
    super(
      `The template schema "${templateSchema}" cannot be cloned: it holds ${objects.join(', ')}, which the clone does not copy ` +
        `(it copies tables, their columns, defaults, constraints, indexes, sequences, comments and rows). Create these ` +
        `tenants with TenantLifecycle.create (migrations) instead, or keep such objects out of the tenant schema.`,
    );
  }
}

/** A tenant's tables changed while another tenant was written: a broken isolation, named table by table. */
export class TenantIsolationViolation extends TenancyError {
  constructor(writer: string, changes: string[]) {
    super(`Writing in tenant '${writer}' changed other tenants' tables: ${changes.join('; ')}.`);
  }
}

/** Shared-table mode keeps every tenant in the same tables: there is no schema or database to copy. */
export class SharedTablesNotCopiedError extends TenancyError {
  constructor(sharedTier = false) {
    super(
      sharedTier
        ? 'TenancyTesting copies a template schema or database, rows as they are; with tenancy.sharedTier every row carries ' +
            'its tenant in a column, so a copy would belong to the template. Create test tenants with TenantLifecycle.create ' +
            '(and its seed), and run code as them with TenancyService.run.'
        : 'TenancyTesting copies a template schema or database; in shared-table mode (isolation: \'table\') tenants share ' +
            'the tables, so there is nothing to copy. Create test tenants with TenantLifecycle.create, which only ' +
            'registers (and seeds) them there, and run code as them with TenancyService.run.',
    );
  }
}
