/** Invalid module options: every problem found at boot, one per line, each naming its context. */
export class InvalidTenancyOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid MikroTenancyModule options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InvalidTenancyOptionsError';
  }
}

/** A token, repository or service asked for a context that forRoot/forRootAsync did not register. */
export class UnknownContextError extends Error {
  constructor(contextName: string, known: readonly string[], usage: string) {
    super(
      `${usage} asks for context '${contextName}', which is not registered. Registered contexts: ` +
        `${known.length ? known.map((n) => `'${n}'`).join(', ') : '(none)'}. Add it to MikroTenancyModule.forRoot({ contexts }) ` +
        `or fix the name.`,
    );
    this.name = 'UnknownContextError';
  }
}
