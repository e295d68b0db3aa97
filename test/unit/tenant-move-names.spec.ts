import { moveIdFor, moveNamesOf } from '../../src/isolation/move/move-names.js';
import { TenantMoveStateError } from '../../src/isolation/move/move.errors.js';

describe('tenant move names', () => {
  it('derives a stable move id per schema and target, and every object name from it', () => {
    const id = moveIdFor('tenant_acme', 'eu-2');
    expect(id).toMatch(/^nmt_move_[0-9a-f]{16}$/);
    expect(moveIdFor('tenant_acme', 'eu-2')).toBe(id);
    expect(moveIdFor('tenant_acme', 'eu-3')).not.toBe(id);
    expect(moveNamesOf('tenant_acme', id)).toEqual({ moveId: id, publication: `${id}_pub`, subscription: id, parkedSchema: `${id}_parked` });
  });

  it('gives every (schema, target database) its own id: slots are server-wide, so a move there and back on one server must not share one', () => {
    const ids = [moveIdFor('tenant_acme', 'db1:5432/shared_db'), moveIdFor('tenant_acme', 'db1:5432/solo_db'), moveIdFor('tenant_acme', 'db2:5432/shared_db'), moveIdFor('tenant_beta', 'db1:5432/solo_db')];
    expect(new Set(ids).size).toBe(4);
  });

  it.each(['', 'Upper', '1abc', 'a-b', "x'; drop table t; --", 'a'.repeat(41)])('refuses the move id %j', (moveId) => {
    expect(() => moveNamesOf('tenant_acme', moveId)).toThrow(TenantMoveStateError);
  });

  it.each(['', 'a b', 'x"y', 'a'.repeat(64)])('refuses the schema name %j', (schema) => {
    expect(() => moveNamesOf(schema, 'nmt_move_abc')).toThrow(TenantMoveStateError);
  });
});
