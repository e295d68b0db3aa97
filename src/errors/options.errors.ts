import { TenancyError } from './tenancy.error.js';

/** Invalid module options: every problem found at boot, one per line, each naming its context. */
export class InvalidTenancyOptionsError extends TenancyError {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid MikroTenancyModule options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** A token, repository or service asked for a context that forRoot/forRootAsync did not register. */
export class UnknownContextError extends TenancyError {
  constructor(contextName: string, known: readonly string[], usage: string) {
    super(
      `${usage} asks for context '${contextName}', which is not registered. Registered contexts: ` +
        `${known.length ? known.map((n) => `'${n}'`).join(', ') : '(none)'}. Add it to MikroTenancyModule.forRoot({ contexts }) ` +
        `or fix the name.`,
    );
  }
}

/** An API was used in a way it does not support; the message says how to use it instead. */
export class TenancyUsageError extends TenancyError {}
