import { HttpStatus } from '@nestjs/common';
import { TenancyError } from './tenancy.error.js';

/** Errors of where a tenant lives: its server and its tier (tenancy.servers, databaseTier, sharedTier). */

/**
 * A tenant recorded in the shared tier still has a schema of its own, marked as its own (its record was changed
 * without a move): its data is there, so it is not served from the shared tables, where its writes would split it.
 */
export class TenantTierMismatchError extends TenancyError {
  constructor(readonly tenantId: string, where: string) {
    super(
      `Tenant '${tenantId}' is recorded in the shared tier, but its own ${where} exists and holds its data: refused, so ` +
        `nothing of it is read from or written to the shared tables. Correct its 'tier' in the tenant store (its record ` +
        `was changed without a move), or drop that storage if it is a leftover.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/**
 * Several servers (`tenancy.servers`): a tenant record names a server that is not configured (a typo in the store, or
 * a server removed from the config while tenants still live on it). Never guessed: its requests get a 500 and the log
 * says what to fix.
 */
export class TenantServerUnknownError extends TenancyError {
  constructor(contextName: string, tenantId: string, server: unknown, configured: readonly string[]) {
    super(
      `Tenant '${tenantId}' of context '${contextName}' lives on server '${printableName(server)}', which tenancy.servers does ` +
        `not name (configured: ${configured.map((name) => `'${name}'`).join(', ')}). Add that server to tenancy.servers, or ` +
        `correct the tenant's 'server' in the tenant store.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/**
 * A tenant record names a tier the tenant context does not have (`tier: 'database'` needs schema isolation with
 * `tenancy.databaseTier`; tiers are `'schema'` and `'database'`). Never guessed: a 500, the log says what to fix.
 */
export class TenantTierUnsupportedError extends TenancyError {
  constructor(contextName: string, tenantId: string, tier: unknown) {
    super(
      `Tenant '${tenantId}' of context '${contextName}' is in tier '${printableName(tier)}', which this tenant context does not ` +
        `have. Tiers are 'shared', 'schema' and 'database'; the shared tier needs isolation 'schema' with tenancy.sharedTier, ` +
        `the database tier tenancy.databaseTier. Configure it, or correct the tenant's 'tier' in the tenant store.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/** The shared tier's database could not be checked or created at boot. */
export class SharedTierDatabaseError extends TenancyError {
  constructor(contextName: string, dbName: string, cause: unknown) {
    super(
      `Tenant context '${contextName}': the shared tier's database "${dbName}" could not be found or created ` +
        `(${cause instanceof Error ? cause.message : String(cause)}). Create it once (create database "${dbName}") with a role ` +
        `that may, or point tenancy.sharedTier.dbName at an existing database, then start the app again.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
      { cause },
    );
  }
}

/** A name read from a store, for a message: every character outside [A-Za-z0-9_.-] written as \uXXXX. */
function printableName(name: unknown): string {
  return String(name).replace(/[^A-Za-z0-9_.-]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).slice(0, 200);
}
