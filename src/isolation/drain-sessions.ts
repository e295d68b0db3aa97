import { sqlStateOf } from '../errors/sql-state.js';
import type { Logger } from '@nestjs/common';

/** The sessions that use a tenant's schema or database, as PostgreSQL sees them (every app instance, any client). */
export interface TenantSessions {
  /** How many other sessions use it now. */
  count(): Promise<number>;
  /** Ends them (`pg_terminate_backend`); returns how many were ended. */
  end(): Promise<number>;
}

/**
 * Of the sessions found, those this role may end: pg_terminate_backend raises an error (not false) for any other,
 * e.g. an autovacuum worker or another role's session when the app's role is not a superuser (a managed
 * PostgreSQL). Sessions of a role whose privileges it has, or of any role but a superuser with pg_signal_backend;
 * never a process without a role (an autovacuum worker: a role without SUPERUSER sees neither its role nor its
 * backend_type in pg_stat_activity, only that it has no role).
 */
export const SIGNALABLE_SESSION_SQL =
  "a.usesysid is not null and (pg_has_role(a.usesysid, 'USAGE') or " +
  "(pg_has_role('pg_signal_backend', 'USAGE') and not coalesce((select r.rolsuper from pg_roles r where r.oid = a.usesysid), true)))";

const POLL_MS = 100;
/** A drop that keeps meeting a lock conflict or a deadlock is retried this many times, ending sessions in between. */
const DROP_ATTEMPTS = 8;

// 40P01 deadlock_detected, 55P03 lock_not_available (lock_timeout), 55006 object_in_use ("being accessed by other
// users"), 57014 query_canceled (the bounded wait for every table lock at once, see SchemaProvisioning.drop)
const RETRYABLE_SQLSTATES = new Set(['40P01', '55P03', '55006', '57014']);

/**
 * Drops what holds a tenant's data while other sessions may still use it: waits (polling PostgreSQL) until none
 * does or `drainUntil` passes, ends the sessions left, then runs `drop`; a lock conflict or deadlock (a session
 * that started meanwhile) ends the sessions again and retries. `drop` must be idempotent (`if exists`).
 */
export async function dropAfterDraining(sessions: TenantSessions, drop: () => Promise<void>, drainUntil: number, logger: Logger, label: string): Promise<void> {
  while (Date.now() < drainUntil && (await sessions.count()) > 0) await sleep(POLL_MS);
  for (let attempt = 1; ; attempt++) {
    const ended = await sessions.end();
    if (ended > 0) logger.warn(`Dropping ${label}: ended ${ended} session(s) still using it after the drain time`);
    try {
      await drop();
      return;
    } catch (error) {
      const state = sqlStateOf(error);
      if (attempt >= DROP_ATTEMPTS || state === undefined || !RETRYABLE_SQLSTATES.has(state)) throw error;
      logger.warn(`Dropping ${label}: attempt ${attempt} met ${state === '40P01' ? 'a deadlock' : 'a lock held by another session'}; retrying`);
      await sleep(POLL_MS * attempt);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
