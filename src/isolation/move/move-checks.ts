import { tablesWithoutReplicaIdentity } from './move-catalog.js';
import type { MoveQuery } from './move-sql.js';
import { TenantMoveServerNotReadyError, TenantMoveTableWithoutKeyError } from './move.errors.js';

/** The move reads pg_stat_subscription_stats (copy and apply errors), which came with PostgreSQL 15. */
const MIN_VERSION = 150000;

/** Where the two databases of a move are, as PostgreSQL tells it. */
export interface MovePlacement {
  /** Both databases are on one PostgreSQL server (cluster): same system identifier, start time and port. */
  readonly sameServer: boolean;
}

/**
 * What must hold before anything is created: two different databases, both servers on PostgreSQL 15+, the source
 * with wal_level = logical and a free replication slot, every table of the schema with a replica identity.
 */
export async function checkMovePossible(source: MoveQuery, target: MoveQuery, schema: string, labels: { source: string; target: string }): Promise<MovePlacement> {
  const [from, to] = await Promise.all([databaseIdentity(source), databaseIdentity(target)]);
  const sameServer = from.server === to.server;
  if (sameServer && from.database === to.database) {
    throw new TenantMoveServerNotReadyError(
      schema,
      labels.target,
      `is the source database itself (database "${to.database}" of the same PostgreSQL server)`,
      `A move needs another database as its target: the schema keeps its name, so the target would be the source.`,
    );
  }
  const [src] = await source<{ v: string; wal: string; slots: string; used: string }>(
    `select current_setting('server_version_num') as v, current_setting('wal_level') as wal,
            current_setting('max_replication_slots') as slots, (select count(*)::text from pg_replication_slots) as used`,
  );
  const [dst] = await target<{ v: string }>(`select current_setting('server_version_num') as v`);
  for (const [label, version] of [[labels.source, src?.v], [labels.target, dst?.v]] as const) {
    if (Number(version) < MIN_VERSION) {
      throw new TenantMoveServerNotReadyError(schema, label, `runs PostgreSQL ${version} (server_version_num)`, 'Moving a schema needs PostgreSQL 15 or later on both servers (the move reads pg_stat_subscription_stats to report copy errors).');
    }
  }
  if (src?.wal !== 'logical') {
    throw new TenantMoveServerNotReadyError(
      schema,
      labels.source,
      `has wal_level = '${src?.wal}'`,
      `Set wal_level = logical in its postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart it.`,
    );
  }
  if (Number(src.used) >= Number(src.slots)) {
    throw new TenantMoveServerNotReadyError(
      schema,
      labels.source,
      `uses all of its ${src.slots} replication slots (max_replication_slots)`,
      `Raise max_replication_slots (and max_wal_senders) and restart it, or drop unused slots (pg_replication_slots).`,
    );
  }
  await checkRights(source, target, schema, labels);
  const keyless = await tablesWithoutReplicaIdentity(source, schema);
  if (keyless.length) throw new TenantMoveTableWithoutKeyError(schema, keyless);
  return { sameServer };
}

/**
 * A server by its system identifier (a physical replica or a copy made with pg_basebackup shares it), start time
 * and port (which tell such copies apart), and the database by name. Readable by any role.
 */
async function databaseIdentity(query: MoveQuery): Promise<{ server: string; database: string }> {
  const [row] = await query<{ server: string; database: string }>(
    `select (select system_identifier::text from pg_control_system()) || '/' || extract(epoch from pg_postmaster_start_time())::text || '/' || current_setting('port') as server,
            current_database() as database`,
  );
  return { server: row!.server, database: row!.database };
}

/**
 * The rights a move needs (docs/moving-tenants.md), checked before anything is created, naming the right and the
 * server: on the source, REPLICATION (the slot; an attribute, never inherited) and CREATE on the database (the
 * publication); on the target, pg_create_subscription (PostgreSQL 16+; a superuser on 15) and CREATE on the database.
 */
async function checkRights(source: MoveQuery, target: MoveQuery, schema: string, labels: { source: string; target: string }): Promise<void> {
  const rights = `select current_user as role, rolsuper or rolreplication as replication, has_database_privilege(current_database(), 'CREATE') as "create",
                         rolsuper or (current_setting('server_version_num')::int >= 160000 and pg_has_role(current_user, 'pg_create_subscription', 'USAGE')) as subscribe
                    from pg_roles where rolname = current_user`;
  type Rights = { role: string; replication: boolean; create: boolean; subscribe: boolean };
  const [[src], [dst]] = await Promise.all([source<Rights>(rights), target<Rights>(rights)]);
  const missing = (side: Rights | undefined, label: string, needs: [boolean | undefined, string][]) => {
    const lacking = needs.filter(([has]) => !has).map(([, what]) => what);
    if (lacking.length) {
      throw new TenantMoveServerNotReadyError(schema, label, `does not give role "${side?.role}" ${lacking.join(' nor ')}`, 'Grant it (see "What the servers need" in docs/moving-tenants.md), then rerun the move.');
    }
  };
  missing(src, labels.source, [[src?.replication, 'the REPLICATION attribute'], [src?.create, 'CREATE on the database']]);
  missing(dst, labels.target, [[dst?.subscribe, 'membership of pg_create_subscription'], [dst?.create, 'CREATE on the database']]);
}
