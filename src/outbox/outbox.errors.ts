import { TenancyError } from '../errors/tenancy.error.js';

/** Invalid OutboxModule options: every problem found at boot. */
export class InvalidOutboxOptionsError extends TenancyError {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid OutboxModule options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * The outbox is used in a way its set-up does not allow: a context without the outbox entities, a destination that is
 * not a static context, a topic without a handler, handlers that clash. The message names the context and the fix.
 */
export class OutboxSetupError extends TenancyError {}

/** A call to the outbox API with an argument it cannot take (an empty topic, a key too long, an id that is not a UUID). */
export class OutboxUsageError extends TenancyError {}

/** The entity a context lacks for its part in the outbox, and how to add it. */
export function missingEntityMessage(contextName: string, entity: 'OutboxMessage' | 'OutboxReceipt', usage: string): string {
  const role = entity === 'OutboxMessage' ? 'send outbox messages' : 'receive outbox messages';
  return (
    `${usage}: context '${contextName}' cannot ${role}: its entities do not include ${entity}. Add ${entity} ` +
    `(from nestjs-mikro-tenancy) to the entities of '${contextName}', then generate and apply a migration ` +
    `(\`mikro-tenancy migrate create --context ${contextName}\`, \`mikro-tenancy migrate up\`).`
  );
}
