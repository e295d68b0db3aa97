/**
 * The two queries of a replica check (PostgreSQL), and what makes a replica unfit to serve reads for its primary.
 * Every function used here is granted to every role by default (no superuser, no pg_monitor needed).
 */

/** What the check reads on the primary: its WAL position (see replica-freshness.ts) and its identity. */
export const PRIMARY_CHECK_SQL =
  'select pg_current_wal_lsn()::text as lsn, current_database() as db, ' +
  '(select system_identifier::text from pg_control_system()) as system, pg_postmaster_start_time()::text as started';

/** What the check reads on a replica: how far it has replayed, and its identity. */
export const REPLICA_CHECK_SQL =
  'select pg_is_in_recovery() as recovery, pg_last_wal_replay_lsn()::text as replayed, current_database() as db, ' +
  '(select system_identifier::text from pg_control_system()) as system, pg_postmaster_start_time()::text as started';

export interface PrimaryRow {
  lsn: string;
  db: string;
  system: string;
  started: string;
}

export interface ReplicaRow {
  recovery: boolean;
  replayed: string | null;
  db: string;
  system: string;
  started: string;
}

/**
 * Why this replica must not serve reads for this primary, or undefined when it may:
 * - another database than the primary's (a replica config can never send reads elsewhere: in database mode, the
 *   primary was checked to be the tenant's own database, so the replica is too);
 * - another PostgreSQL cluster (the system identifier of a physical replica is its primary's);
 * - a server that is not in recovery (a promoted replica, or a primary of its own, whose data may have diverged),
 *   unless it is the primary itself reached another way (same cluster, same start time).
 */
export function replicaRefusal(replica: ReplicaRow, primary: PrimaryRow): string | undefined {
  if (replica.db !== primary.db) {
    return `it is connected to database "${replica.db}", not "${primary.db}" like the primary: check its dbName and clientUrl`;
  }
  if (replica.system !== primary.system) {
    return 'it is not a replica of the primary (another PostgreSQL cluster: its system identifier differs): check its host and port';
  }
  if (!replica.recovery && replica.started !== primary.started) {
    return 'it is not in recovery (a promoted replica, or a primary of its own), so its data may differ from the primary\'s';
  }
  return undefined;
}
