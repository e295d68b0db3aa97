import { CompensationError, type UndoFailure } from './compensation.error.js';

/** One step of an operation over several contexts: `run` does it, `undo` takes it back if a later step fails. */
export interface CompensationStep<T> {
  /** Names the step in errors. Default `step <n>` (1-based). */
  name?: string;
  /** Should be atomic on its own (one transaction): a step that fails is not undone, only the ones before it. */
  run: () => T | PromiseLike<T>;
  /** Takes back what `run` did; gets its result. Leave it out for a step with nothing to take back (the last one, a read). */
  undo?: (result: Awaited<T>) => unknown;
}

/**
 * Runs `steps` in order and returns their results. When a step fails, the undos of the steps already done run in
 * reverse order, each even if another failed; then the step's error is rethrown unchanged, or, when an undo failed
 * too, a CompensationError carrying both (the step's error as `cause`, the undo errors as `undoFailures`).
 *
 * For synchronous work across databases that one transaction cannot cover (a tenant and the hub, two contexts):
 * `await compensate([{ name: 'create user', run: () => createUser(), undo: (user) => deleteUser(user) }, ...])`.
 * A process killed between a step and its undo leaves the first step's effect in place: when that must not happen,
 * use the outbox (at-least-once, survives crashes) instead.
 */
export async function compensate<T extends readonly unknown[]>(steps: { readonly [K in keyof T]: CompensationStep<T[K]> }): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const list = steps as readonly CompensationStep<unknown>[];
  const done: { name: string; step: CompensationStep<unknown>; result: unknown }[] = [];
  for (const [index, step] of list.entries()) {
    const name = step.name ?? `step ${index + 1}`;
    try {
      done.push({ name, step, result: await step.run() });
    } catch (error) {
      throw await undoAll(done, name, error);
    }
  }
  return done.map((d) => d.result) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/** Runs the undos in reverse; returns the error to throw. */
async function undoAll(done: { name: string; step: CompensationStep<unknown>; result: unknown }[], failedStep: string, error: unknown): Promise<unknown> {
  const undone: string[] = [];
  const failures: UndoFailure[] = [];
  for (const { name, step, result } of [...done].reverse()) {
    if (!step.undo) continue;
    try {
      await step.undo(result);
      undone.push(name);
    } catch (undoError) {
      failures.push({ step: name, error: undoError });
    }
  }
  return failures.length ? new CompensationError(failedStep, error, undone, failures) : error;
}
