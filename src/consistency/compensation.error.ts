import { TenancyError } from '../errors/tenancy.error.js';
import { messageOf } from '../errors/message-of.js';

/** An undo that failed: the effect of its step is still there. */
export interface UndoFailure {
  step: string;
  error: unknown;
}

/**
 * A step of `compensate()` failed and at least one undo failed too: the data is left inconsistent, and the message
 * says which steps' effects remain. The step's own error is `cause` (and `errors[0]`); the undo errors follow in
 * `undoFailures` (and `errors`). When every undo succeeds, `compensate()` rethrows the step's error unchanged instead.
 */
export class CompensationError extends TenancyError {
  /** The step's error, then every undo error, like an AggregateError. */
  readonly errors: unknown[];

  constructor(
    readonly failedStep: string,
    cause: unknown,
    /** Steps undone, in the order their undos ran. */
    readonly undone: readonly string[],
    readonly undoFailures: readonly UndoFailure[],
  ) {
    const remaining = undoFailures.map((f) => `'${f.step}' (${messageOf(f.error)})`).join(', ');
    super(
      `Step '${failedStep}' failed: ${messageOf(cause)}. Undoing the steps before it failed for ${remaining}: their effects remain and ` +
        `need fixing by hand${undone.length ? ` (undone: ${undone.map((s) => `'${s}'`).join(', ')})` : ''}.`,
      undefined,
      undefined,
      { cause },
    );
    this.errors = [cause, ...undoFailures.map((f) => f.error)];
  }
}
