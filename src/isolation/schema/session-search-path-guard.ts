import { TenantSessionSearchPathError, TenantSessionTempTableError } from '../../errors/isolation.errors.js';
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
 * `SET [SESSION] search_path` and `set_config('search_path', ...)` unless its third argument is `true`: session-long
 * changes. `SET LOCAL` and `set_config(..., true)` end with their transaction and are let through, as are reads
 * (`current_setting`) and RESET. Matched on the statement as written and with its comments removed (see `readings`).
 */
const SESSION_SET = /\bset (?:session )?search_path\b/;
const SET_CONFIG_CALL = /\bset_config ?\( ?'search_path' ?,/g;
const LOCAL_SET_CONFIG_CALL = /\bset_config ?\( ?'search_path' ?, ?(?:'[^']*'|\$\d+|[\w.]+) ?, ?'?true'? ?\)/g;
/** A temporary table outlives its unit of work on a pooled connection unless it is dropped at commit. */
const SESSION_TEMP_TABLE = /\bcreate (?:(?:global|local) )?(?:temp|temporary) table\b(?![^;]*\bon commit drop\b)|\binto (?:temp|temporary) (?:table )?\w/;

/**
 * The statement as the guard reads it, twice: as written and with its comments removed (so `set /* x *\/ search_path`
 * is caught, and so is a change after a `--` inside a string literal), each with double quotes dropped, blanks
 * collapsed and in lower case (`set "search_path"`, `SET\nSession ...`).
 */
function readings(text: string): string[] {
  const plain = (sql: string) => sql.replace(/"/g, '').replace(/\s+/g, ' ').toLowerCase();
  return [plain(text), plain(text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' '))];
}

function setsSessionSearchPath(sql: string): boolean {
  if (SESSION_SET.test(sql)) return true;
  const calls = sql.match(SET_CONFIG_CALL)?.length ?? 0;
  return calls > 0 && calls > (sql.match(LOCAL_SET_CONFIG_CALL)?.length ?? 0);
}

/**
 * Schema mode: a tenant connection's search_path holds no tenant table (search-path.ts), and a pooled connection
 * serves every tenant in turn. Hand-written SQL that sets the search_path for the session would outlive its unit of
 * work: the next tenant's unqualified SQL on that connection would read this tenant's tables. Such a statement is
 * refused on every tenant connection, whatever the query path (EntityManager, Kysely, raw driver), and so is a
 * temporary table that outlives its transaction. The check is a substring test on each statement's text
 * ('search_path', 'temp'), and regular expressions only on those that have it.
 */
export function withSessionSearchPathGuard(config: ContextConfig, contextName: string): ContextConfig {
  return withPoolHook<PgPool>(config, (pool) => pool.on('connect', (client) => guardClient(client, contextName)));
}

function guardClient(client: PgClient, contextName: string): void {
  const query = client.query.bind(client);
  // node-postgres' query(config, values, callback): explicit parameters, no rest array per statement
  client.query = (config: unknown, values?: unknown, callback?: unknown) => {
    const text = textOf(config);
    if (changesSessionSearchPath(text)) throw new TenantSessionSearchPathError(contextName);
    if (createsSessionTempTable(text)) throw new TenantSessionTempTableError(contextName);
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
  return text !== undefined && /search_path/i.test(text) && readings(text).some(setsSessionSearchPath);
}

/**
 * A temporary table that is not dropped at commit: on a pooled connection it stays for the connection's next users,
 * and it comes first for every unqualified table name (PostgreSQL searches pg_temp before the search_path), so the
 * next tenant's unqualified SQL (and MikroORM's formulas, which it leaves unqualified) would read and write it.
 */
export function createsSessionTempTable(text: string | undefined): boolean {
  return text !== undefined && /temp/i.test(text) && readings(text).some((sql) => SESSION_TEMP_TABLE.test(sql));
}
