import { ConnectionException } from '@mikro-orm/core';
import { HttpStatus } from '@nestjs/common';
import { TenancyError } from './tenancy.error.js';

/**
 * A database a request used could not be reached in time: the server is down or restarting, the connection was
 * lost, or every pooled connection stayed busy for the whole connection timeout. The request was not completed;
 * it is safe to retry. The original driver error is `cause` (and is logged), never sent to the client.
 */
export class DatabaseUnavailableError extends TenancyError {
  constructor(readonly reason: string, readonly tenantId: string | undefined, cause: unknown, where: UnavailableDatabase = {}) {
    super(
      reason === MISSING_DATABASE
        ? missingDatabaseMessage(where, tenantId)
        : `The database is unavailable: ${reason}${tenantId === undefined ? '' : ` (tenant '${tenantId}')`}. ` +
            `The request was not completed; retry later. If this persists, check that PostgreSQL is up and that the ` +
            `pool size (pool.max) and driverOptions.connectionTimeoutMillis fit the load.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
      { cause },
    );
  }
}

/** Which context and database a pool serves, for messages. */
export interface UnavailableDatabase {
  contextName?: string;
  database?: string;
}

const MISSING_DATABASE = 'the database does not exist';

/** A missing database is a set-up step, not an outage: say which one and how to create it. */
function missingDatabaseMessage(where: UnavailableDatabase, tenantId?: string): string {
  const database = where.database === undefined ? 'The database' : `The database "${where.database}"`;
  const context = where.contextName === undefined ? '' : ` of context '${where.contextName}'`;
  const tenant = tenantId === undefined ? '' : ` (tenant '${tenantId}')`;
  const create = where.database === undefined ? '' : ` (or \`createdb ${where.database}\`)`;
  return (
    `${database}${context}${tenant} does not exist. This is a set-up step, not an outage: create it with ` +
    `\`mikro-tenancy db create\`${create}, then apply its migrations with \`mikro-tenancy migrate up\`.`
  );
}

/**
 * What the module's PostgreSQL pools throw in place of a driver error that means "database unavailable". It is a
 * MikroORM ConnectionException, so MikroORM passes it through unchanged, and the module's exception filter answers
 * it with a 503 DatabaseUnavailableError, at no cost for requests that do not fail. `cause` is the driver's error.
 */
export class DatabaseConnectionFailure extends ConnectionException {
  constructor(readonly reason: string, cause: unknown, readonly where: UnavailableDatabase = {}) {
    const message = reason === MISSING_DATABASE ? missingDatabaseMessage(where) : `The database is unavailable: ${reason}`;
    super(Object.assign(new Error(message), { code: (cause as { code?: unknown } | null)?.code }));
    this.cause = cause;
  }
}

// Socket errors (Node) and SQLSTATEs (PostgreSQL) that mean "no usable connection", not "bad query".
const REASON_BY_CODE: Record<string, string> = {
  ECONNREFUSED: 'the server refused the connection',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was lost',
  ETIMEDOUT: 'the server did not answer in time',
  EHOSTUNREACH: 'the server is unreachable',
  ENETUNREACH: 'the server is unreachable',
  ENOTFOUND: 'the server host name does not resolve',
  EAI_AGAIN: 'the server host name does not resolve',
  '57P01': 'the server is shutting down',
  '57P02': 'the server crashed',
  '57P03': 'the server is starting up or shutting down',
  '53300': 'the server has too many connections',
  '3D000': 'the database does not exist',
  '28000': 'the server rejected the credentials',
  '28P01': 'the server rejected the credentials',
};

// pg and pg-pool report these without a code
const REASON_BY_MESSAGE: [RegExp, string][] = [
  [/timeout exceeded when trying to connect/i, 'no pooled connection became free within the connection timeout'],
  [/connection terminated/i, 'the connection was lost'],
  [/not queryable/i, 'the connection was lost'],
  [/connection timeout/i, 'the server did not answer in time'],
];

/** Why `error` means the database is unavailable, or undefined for any other error (bad SQL, constraints, bugs). */
export function databaseUnavailableReason(error: unknown): string | undefined {
  // duck-typed, not `instanceof Error`: socket errors come from Node's own realm (a different Error under Jest's vm)
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 4; depth++) {
    if (current instanceof DatabaseConnectionFailure) return current.reason;
    const { code, message, cause, severity } = current as { code?: unknown; message?: unknown; cause?: unknown; severity?: unknown };
    if (typeof code === 'string') {
      if (REASON_BY_CODE[code]) return REASON_BY_CODE[code];
      // SQLSTATE class 08: connection exception. Not one the server reports as a plain ERROR on a live session: that
      // statement failed to reach ANOTHER server (CREATE SUBSCRIPTION's "could not connect to the publisher", dblink)
      if (code.startsWith('08') && severity !== 'ERROR') return 'the connection failed';
    }
    if (typeof message === 'string') for (const [pattern, reason] of REASON_BY_MESSAGE) if (pattern.test(message)) return reason;
    if (current instanceof ConnectionException && severity !== 'ERROR') return 'the connection failed';
    current = cause;
  }
  return undefined;
}
