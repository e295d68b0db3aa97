import { InvalidTenantIdError } from '../errors/tenant.errors.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import type { TenantRuntime } from './tenant-runtime.js';

/** Why a row of the tenant store cannot be a tenant. */
export interface TenantRowProblem {
  /** The id for a report: as is when it passes the id rules, otherwise escaped (never raw). */
  reportedId: string;
  /** The id for a log line (printableTenantId). */
  shownId: string;
  /** The broken rule, from InvalidTenantIdError: `Invalid tenant id: the schema name for tenant 'x' would be...` */
  rule: string;
}

/**
 * Whether a listed row can be a tenant: its id passes the id rules, and so does the schema or database name derived
 * from it (too long, unsafe or reserved names are refused, see validateDerivedIdentifier). Only those identifier rules
 * make a row "not a tenant": any other error of the derivation (a throwing schemaName or database callback,
 * connection options that lead elsewhere) is left to the caller's run, which fails on it as before.
 */
export function tenantRowProblem<T extends TenantRecord>(tenants: TenantRuntime<T>, record: T): TenantRowProblem | undefined {
  const idProblem = tenants.directory.ids.problemOf(record.id);
  const shownId = tenants.printableId(record.id);
  if (idProblem) return { reportedId: shownId, shownId, rule: idProblem.message };
  try {
    tenants.isolation.provisioning.nameOf(record);
    return undefined;
  } catch (error) {
    if (error instanceof InvalidTenantIdError) return { reportedId: record.id, shownId, rule: error.message };
    return undefined; // not an identifier rule: the run that uses this record reports it
  }
}

/** The advice that follows a TenantRowProblem in logs and reports. */
export const FIX_THE_ROW =
  'It is not a tenant and was skipped: correct the row in the tenant store (its id, or what its schema or database name is derived from) or remove it.';
