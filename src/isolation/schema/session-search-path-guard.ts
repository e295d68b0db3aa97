import { TenantSessionSearchPathError } from '../../errors/isolation.errors.js';
import type { ContextConfig } from '../../options/tenancy-options.js';
import { withPoolHook } from '../pool-hook.js';

/** The parts of node-postgres' Pool and Client used here. */
interface PgClient {
  query(...args: unknown[]): unknown;
}
interface PgPool {
  on(event: 'connect', listener: (client: PgClient) => void): unknown;
}

/**
 * `SET [SESSION] search_path` and `set_config('search_path', ..., false)`: session-long changes. `SET LOCAL` and
 * `set_config(..., true)` end with their transaction and are let through, as are reads (`current_setting`) and RESET.
 */
const SESSION_SEARCH_PATH_CHANGE = /\bset\s+(?:session\s+)?search_path\b|\bset_config\s*\(\s*'search_path'\s*,[^;]*?,\s*false\s*\)/i;

/**
 * Schema mode: a tenant connection's search_path holds no tenant table (search-path.ts), and a pooled connection
 * serves every tenant in turn. Hand-written SQL that sets the search_path for the session would outlive its unit of
 * work: the next tenant's unqualified SQL on that connection would read this tenant's tables. Such a statement is
 * refused on every tenant connection, whatever the query path (EntityManager, Kysely, raw driver); the check is a
 * substring test for 'search_path' on each statement's text, and a regular expression only on those that have it.
 */
export function withSessionSearchPathGuard(config: ContextConfig, contextName: string): ContextConfig {
  return withPoolHook<PgPool>(config, (pool) => pool.on('connect', (client) => guardClient(client, contextName)));
}

function guardClient(client: PgClient, contextName: string): void {
  const query = client.query.bind(client);
  // node-postgres' query(config, values, callback): explicit parameters, no rest array per statement
  client.query = (config: unknown, values?: unknown, callback?: unknown) => {
    if (changesSessionSearchPath(textOf(config))) throw new TenantSessionSearchPathError(contextName);
    return query(config, values, callback);
  };
}

/** The SQL text of a query call: a string, a query config `{ text }`, or a submittable such as a cursor. */
function textOf(first: unknown): string | undefined {
  if (typeof first === 'string') return first;
  const text = (first as { text?: unknown } | undefined)?.text;
  return typeof text === 'string' ? text : undefined;
}

export function changesSessionSearchPath(text: string | undefined): boolean {
  return text !== undefined && text.includes('search_path') && SESSION_SEARCH_PATH_CHANGE.test(text);
}
