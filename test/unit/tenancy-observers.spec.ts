import { type TenancyObserver, TenancyObservers } from '../../src/observability/tenancy-observers.js';

describe('TenancyObservers', () => {
  it('costs nothing without observers: started returns the leave function itself', () => {
    const leave = () => undefined;
    expect(new TenancyObservers().started('acme', leave)).toBe(leave);
  });

  it('tells observers a unit waited, started and ended, in that order, and ends each once after leave', async () => {
    const events: string[] = [];
    const observers = new TenancyObservers();
    observers.add({
      entering: () => (events.push('waiting'), () => void events.push('done waiting')),
      started: (id) => (events.push(`started ${id}`), () => void events.push(`ended ${id}`)),
    });
    const active = await observers.entering(async () => ({ id: 'acme' }));
    const end = observers.started(active.id, () => void events.push('left'));
    end();
    expect(events).toEqual(['waiting', 'done waiting', 'started acme', 'left', 'ended acme']);
  });

  it('reports a refused entry with its error, rethrown as is', async () => {
    const refused: unknown[] = [];
    const observers = new TenancyObservers();
    observers.add({ refused: (error) => void refused.push(error) });
    const error = new Error('unknown tenant');
    await expect(observers.entering(() => Promise.reject(error))).rejects.toBe(error);
    expect(refused).toEqual([error]);
  });

  it('wraps operations with the first observer outermost, and stops calling a removed one', async () => {
    const calls: string[] = [];
    const wrapper = (name: string): TenancyObserver => ({
      operation: async (operation, run) => {
        calls.push(`${name} before ${operation.name}`);
        try {
          return await run();
        } finally {
          calls.push(`${name} after`);
        }
      },
    });
    const observers = new TenancyObservers();
    observers.add(wrapper('outer'));
    const removeInner = observers.add(wrapper('inner'));
    expect(await observers.operation({ name: 'create', tenantId: 'acme' }, async () => (calls.push('run'), 42))).toBe(42);
    removeInner();
    await expect(observers.operation({ name: 'drop', tenantId: 'acme' }, () => Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    expect(calls).toEqual(['outer before create', 'inner before create', 'run', 'inner after', 'outer after', 'outer before drop', 'outer after']);
  });
});
