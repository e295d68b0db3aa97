import { TenantFences } from '../../src/runtime/tenant-fences.js';
import { TenantDroppingError, TenantMovingError } from '../../src/errors/tenant.errors.js';

describe('TenantFences: a move\'s last step', () => {
  it('holds new work until the move is lifted, and says the tenant was moved afterwards', async () => {
    const fences = new TenantFences();
    expect(fences.moveError('acme')).toBeUndefined();
    fences.fenceMove('acme');
    expect(fences.isMoving('acme')).toBe(true);
    expect(fences.isFenced('acme')).toBe(true);
    expect(() => fences.refuseIfFenced('acme')).not.toThrow(); // a move holds work, it does not refuse it
    expect(fences.moveError('acme')?.message).toMatch(/is being moved/);
    const waiting = fences.awaitMove('acme', 5_000);
    fences.liftMove('acme');
    await expect(waiting).resolves.toBe(true);
    expect(fences.isFenced('acme')).toBe(false);
    const moved = fences.moveError('acme');
    expect(moved).toBeInstanceOf(TenantMovingError);
    expect(moved?.message).toMatch(/was moved to another server or tier while this request ran/);
    expect(fences.moveError('globex')).toBeUndefined();
  });

  it('gives up waiting after the bound, and a move fence expires after its time to live', async () => {
    const fences = new TenantFences();
    fences.fenceMove('acme');
    await expect(fences.awaitMove('acme', 20)).resolves.toBe(false);
    fences.fenceMove('globex', 10);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fences.isMoving('globex')).toBe(false);
    await expect(fences.awaitMove('globex', 1_000)).resolves.toBe(true);
  });

  it('keeps drops refusing while a move only holds', () => {
    const fences = new TenantFences();
    fences.fence('acme');
    fences.fenceMove('globex');
    expect(() => fences.refuseIfFenced('acme')).toThrow(TenantDroppingError);
    expect(() => fences.refuseIfFenced('globex')).not.toThrow();
  });
});
