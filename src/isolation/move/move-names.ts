import { createHash } from 'node:crypto';
import { TenantMoveStateError } from './move.errors.js';

/** The PostgreSQL objects one move creates, all derived from its id (so a rerun finds them). */
export interface MoveNames {
  readonly moveId: string;
  /** Publication on the source. */
  readonly publication: string;
  /** Subscription on the target, and its replication slot on the source. */
  readonly subscription: string;
  /** The source schema's name once fenced (renamed under the lock), until cleanup drops it. */
  readonly parkedSchema: string;
}

const MOVE_ID = /^[a-z][a-z0-9_]{0,39}$/;
const SCHEMA = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** A move id for a schema going to a target (stable, so a rerun of the same move finds its objects). */
export function moveIdFor(schema: string, targetKey: string): string {
  return `nmt_move_${createHash('sha256').update(`${schema}\u0000${targetKey}`).digest('hex').slice(0, 16)}`;
}

export function moveNamesOf(schema: string, moveId: string): MoveNames {
  if (!SCHEMA.test(schema)) throw new TenantMoveStateError(schema.slice(0, 80), 'the schema name is not a plain identifier (letters, digits, _ or $, at most 63 characters)');
  if (!MOVE_ID.test(moveId)) {
    throw new TenantMoveStateError(schema, `the move id must be lower-case letters, digits and _, starting with a letter, at most 40 characters (e.g. from moveIdFor())`);
  }
  return { moveId, publication: `${moveId}_pub`, subscription: moveId, parkedSchema: `${moveId}_parked` };
}
