import { CompensationError, TenancyError, compensate } from '../../src/index.js';

/** A step that records what happened to it in `log`; fails its run or undo when told to. */
function step(log: string[], name: string, options: { failRun?: boolean; failUndo?: boolean; noUndo?: boolean } = {}) {
  return {
    name,
    run: async () => {
      log.push(`run ${name}`);
      if (options.failRun) throw new Error(`${name} failed`);
      return `${name}-result`;
    },
    undo: options.noUndo
      ? undefined
      : async (result: string) => {
          log.push(`undo ${name} (${result})`);
          if (options.failUndo) throw new Error(`undo of ${name} failed`);
        },
  };
}

describe('compensate', () => {
  it('runs the steps in order and returns their results, typed per step', async () => {
    const log: string[] = [];
    const [user, count] = await compensate([
      { name: 'create user', run: async () => ({ id: 7 }), undo: (created) => log.push(`delete ${created.id}`) },
      { run: () => 3 },
    ]);
    const typed: [number, number] = [user.id, count];
    expect(typed).toEqual([7, 3]);
    expect(log).toEqual([]);
  });

  it('undoes the completed steps in reverse with their results, then rethrows the step error unchanged', async () => {
    const log: string[] = [];
    const original = new Error('charge failed');
    const failing = { name: 'charge', run: () => Promise.reject(original), undo: () => log.push('undo charge') };
    const error = await compensate([step(log, 'a'), step(log, 'b', { noUndo: true }), step(log, 'c'), failing, step(log, 'never')]).catch((e: unknown) => e);
    expect(error).toBe(original);
    // the failing step is not undone (its run did not complete); b has nothing to undo; 'never' never ran
    expect(log).toEqual(['run a', 'run b', 'run c', 'undo c (c-result)', 'undo a (a-result)']);
  });

  it('reports undo failures without hiding the original error, and still runs every other undo', async () => {
    const log: string[] = [];
    const error = await compensate([step(log, 'reserve stock', { failUndo: true }), step(log, 'create order'), step(log, 'charge card', { failRun: true })]).catch((e: unknown) => e);
    expect(log).toEqual(['run reserve stock', 'run create order', 'run charge card', 'undo create order (create order-result)', 'undo reserve stock (reserve stock-result)']);
    expect(error).toBeInstanceOf(CompensationError);
    expect(error).toBeInstanceOf(TenancyError);
    const compensation = error as CompensationError;
    expect(compensation.message).toBe(
      "Step 'charge card' failed: charge card failed. Undoing the steps before it failed for 'reserve stock' (undo of reserve stock failed): " +
        "their effects remain and need fixing by hand (undone: 'create order').",
    );
    expect((compensation.cause as Error).message).toBe('charge card failed');
    expect(compensation.failedStep).toBe('charge card');
    expect(compensation.undone).toEqual(['create order']);
    expect(compensation.undoFailures.map((f) => [f.step, (f.error as Error).message])).toEqual([['reserve stock', 'undo of reserve stock failed']]);
    expect(compensation.errors.map((e) => (e as Error).message)).toEqual(['charge card failed', 'undo of reserve stock failed']);
  });

  it('names unnamed steps by position, and takes a synchronous throw like a rejection', async () => {
    const error = await compensate([
      { run: () => 1, undo: () => { throw new Error('cannot undo'); } },
      { run: () => { throw new Error('boom'); } },
    ]).catch((e: unknown) => e);
    expect((error as CompensationError).message).toBe("Step 'step 2' failed: boom. Undoing the steps before it failed for 'step 1' (cannot undo): their effects remain and need fixing by hand.");
  });
});
