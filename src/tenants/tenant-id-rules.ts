import { InvalidTenantIdError } from '../errors/tenant.errors.js';
import type { TenantIdRules } from '../module/tenancy-options.js';

const DEFAULT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const DEFAULT_PATTERN_DESCRIPTION = 'lowercase letters, digits, "_" and "-", starting with a letter or digit';
const ALWAYS_RESERVED = ['public', 'information_schema'];
/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently truncated, so two tenants could share one. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Validates tenant ids before anything is looked up or touched. */
export class TenantIdValidator {
  readonly #pattern: RegExp;
  readonly #patternDescription: string;
  readonly #reserved: ReadonlySet<string>;

  constructor(rules: TenantIdRules = {}, extraReserved: readonly string[] = []) {
    // without g/y flags: test() on such a RegExp is stateful and would alternate between true and false
    this.#pattern = rules.pattern ? new RegExp(rules.pattern.source, rules.pattern.flags.replace(/[gy]/g, '')) : DEFAULT_PATTERN;
    this.#patternDescription = rules.patternDescription ?? (rules.pattern ? `must match ${rules.pattern}` : DEFAULT_PATTERN_DESCRIPTION);
    this.#reserved = new Set([...ALWAYS_RESERVED, ...(rules.reserved ?? []), ...extraReserved]);
  }

  /** Throws InvalidTenantIdError naming the broken rule; the raw value is never echoed (it may be hostile). */
  validate(id: string): void {
    if (id.length === 0) throw new InvalidTenantIdError('it is empty');
    if (id.length > MAX_IDENTIFIER_BYTES) {
      throw new InvalidTenantIdError(`it is ${id.length} characters long; at most ${MAX_IDENTIFIER_BYTES} are allowed`);
    }
    if (!this.#pattern.test(id)) {
      throw new InvalidTenantIdError(`it has characters that are not allowed (allowed: ${this.#patternDescription})`);
    }
    if (id.startsWith('pg_')) throw new InvalidTenantIdError(`'${id}' starts with "pg_", which PostgreSQL reserves`);
    if (this.#reserved.has(id)) throw new InvalidTenantIdError(`'${id}' is a reserved name`);
  }
}

/** Checks a schema or database name derived from a tenant: a plain identifier PostgreSQL will not truncate. */
export function validateDerivedIdentifier(kind: 'schema' | 'database', name: string, tenantId: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new InvalidTenantIdError(
      `the ${kind} name for tenant '${tenantId}' would be ${bytes} bytes long; PostgreSQL allows ${MAX_IDENTIFIER_BYTES} ` +
        `and silently truncates longer names, so use a shorter id`,
    );
  }
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name) || name.startsWith('pg_')) {
    throw new InvalidTenantIdError(`the ${kind} name derived for tenant '${tenantId}' is not a safe identifier`);
  }
}
