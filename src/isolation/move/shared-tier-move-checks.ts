import type { MoveNames } from './move-names.js';
import { currentLsn, waitConfirmed } from './move-replication.js';
import { type MoveQuery, qualified, quoteIdent } from './move-sql.js';
import { type SharedTierRows, asTenant } from './shared-tier-rows.js';
import { TenantMoveError, TenantMoveStateError } from './move.errors.js';

/**
 * A move of the tenant out of this shared tier to another place, interrupted and not finished, still publishes its
 * rows (its slot holding the shared database's WAL, its mark holding the tenant's writes): a second move elsewhere
 * would leave those behind. The first must be finished (rerun with the same target) first.
 */
export async function refuseOtherMoveOfTenant(rows: SharedTierRows, names: MoveNames, schema: string): Promise<void> {
  const literal = `'${rows.tenantId.replaceAll("'", "''")}'`;
  const others = await rows.side.query<{ pubname: string }>(
    `select distinct pubname from pg_publication_tables where pubname like 'nmt\\_move\\_%' and pubname <> ? and schemaname = ? and strpos(rowfilter, ?) > 0`,
    [names.publication, rows.schema, literal],
  );
  if (others.length) {
    throw new TenantMoveStateError(
      schema,
      `an earlier move of the tenant out of the shared tier, to another place, is not finished (publication "${others[0]?.pubname}"): rerun that move with the same target to finish it, then move the tenant on`,
    );
  }
}

/**
 * After the initial copy: a table that has rows of the tenant in the shared tier but none in the staging copy means
 * the copy ran without the tenant's setting (row-level security showed the table-sync worker nothing). Said now,
 * before any fence, rather than by the verification under it. Checked twice, the second time after another catch-up,
 * so a first row written meanwhile is not taken for it.
 */
export async function refuseEmptyCopy(rows: SharedTierRows, target: MoveQuery, names: MoveNames, tables: readonly string[], schema: string): Promise<void> {
  const emptyCopies = async () => {
    const exists = (where: string) => tables.map((t) => `select ? as t, exists(select 1 from ${qualified(rows.schema, t)}${where}) as found`).join(' union all ');
    const shared = await asTenant(rows, (q) => q<{ t: string; found: boolean }>(exists(` where ${quoteIdent(rows.column)} = ?`), tables.flatMap((t) => [t, rows.tenantId])));
    const copied = new Map((await target<{ t: string; found: boolean }>(exists(''), tables)).map((r) => [r.t, r.found]));
    return shared.filter((r) => r.found && !copied.get(r.t)).map((r) => r.t);
  };
  if (!tables.length || !(await emptyCopies()).length) return;
  await waitConfirmed(rows.side.query, names.subscription, await currentLsn(rows.side.query), 10_000);
  const empty = await emptyCopies();
  if (!empty.length) return;
  throw new TenantMoveError(
    schema,
    'sync',
    `the initial copy brought none of the tenant's rows of ${empty.join(', ')} although the shared tier has some: the target server's connection to the shared tier ` +
      `must carry the tenant setting (the move adds options=-c ${rows.setting}=<tenant> to it; a subscriptionConnection that sets options itself replaces it), ` +
      `or connect as a role with BYPASSRLS. Fix it, drop the subscription "${names.subscription}" on the target, then rerun`,
  );
}
