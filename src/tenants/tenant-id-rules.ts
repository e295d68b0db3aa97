import { InvalidTenantIdError } from '../errors/tenant.errors.js';

export interface TenantIdRules {
  /** Allowed ids. Default: lowercase letters, digits, `_` and `-`, starting with a letter or digit, 1-63 chars. */
  pattern?: RegExp;
  /** Human-readable description of `pattern`, used in 400 messages. */
  patternDescription?: string;
  /** Ids that are never tenants. `public`, `information_schema` and ids starting with `pg_` always are. */
  reserved?: string[];
}

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

  /** The broken rule, or undefined when the id is valid. */
  problemOf(id: string): InvalidTenantIdError | undefined {
    try {
      this.validate(id);
      return undefined;
    } catch (error) {
      if (error instanceof InvalidTenantIdError) return error;
      throw error;
    }
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

/** Names PostgreSQL itself uses: never a tenant's schema or database. */
const SYSTEM_NAMES: Record<'schema' | 'database', readonly string[]> = {
  schema: ['public', 'information_schema'],
  database: ['postgres', 'template0', 'template1'],
};

/**
 * Checks a schema or database name derived from a tenant: a plain identifier PostgreSQL will not truncate, and not a
 * name that holds something else (`public`, a static context's schema or database, the tenant template's database).
 */
export function validateDerivedIdentifier(kind: 'schema' | 'database', name: string, tenantId: string, reserved: readonly string[] = []): void {
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
  if (SYSTEM_NAMES[kind].includes(name) || reserved.includes(name)) {
    throw new InvalidTenantIdError(`the ${kind} name derived for tenant '${tenantId}' is reserved: it holds data that is not a tenant's`);
  }
}

/** A tenant id for a log line or message: as is when it passes the id rules, otherwise escaped (never raw). */
export function printableTenantId(id: unknown, validator: TenantIdValidator): string {
  if (typeof id === 'string' && validator.problemOf(id) === undefined) return `'${id}'`;
  const text = String(id);
  const shown = text.length > 80 ? text.slice(0, 80) : text;
  // every character outside letters, digits, '_' and '-' is escaped: no quote, control or bidi character reaches a log
  const escaped = `"${shown.replace(/[^A-Za-z0-9_-]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}${text.length > 80 ? '...' : ''}"`;
  return `${escaped} (an invalid tenant id, shown escaped)`;
}
