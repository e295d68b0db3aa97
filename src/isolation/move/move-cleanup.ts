import { sqlStateOf } from '../../errors/sql-state.js';
import { targetStateOf } from './move-catalog.js';
import type { MoveNames } from './move-names.js';
import { dropSlot, dropSubscription, dropTableSyncSlots, sleep } from './move-replication.js';
import { type MoveQuery, quoteIdent } from './move-sql.js';
import { TenantMoveError } from './move.errors.js';

const DROP_ATTEMPTS = 10;

/**
 * After the switch: the subscription (disabled, detached from its slot, dropped), its slots and the publication
 * on the source, then the parked source schema. Each part is idempotent, so a rerun finishes an interrupted cleanup.
 */
export async function cleanUpMove(source: MoveQuery, target: MoveQuery, schema: string, names: MoveNames): Promise<void> {
  const { subscriptionOid } = await targetStateOf(target, schema, names);
  try {
    await dropSubscription(target, names);
    await dropSlot(source, names.subscription, schema);
    if (subscriptionOid) await dropTableSyncSlots(source, subscriptionOid, schema);
    await source(`drop publication if exists ${quoteIdent(names.publication)}`);
    await dropParked(source, names.parkedSchema);
  } catch (error) {
    if (error instanceof TenantMoveError) throw error;
    throw new TenantMoveError(schema, 'cleanup', `the tenant runs on the target; removing what the move left on the servers failed: rerun the move to finish the cleanup`, error);
  }
}

/** Drops the parked schema; a session still holding one of its tables (a late reader) makes it wait and retry. */
async function dropParked(source: MoveQuery, parked: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await source(`set lock_timeout = '2s'; drop schema if exists ${quoteIdent(parked)} cascade; reset lock_timeout`);
      return;
    } catch (error) {
      const state = sqlStateOf(error);
      if (attempt >= DROP_ATTEMPTS || (state !== '55P03' && state !== '40P01')) throw error;
      await sleep(100 * attempt);
    }
  }
}
