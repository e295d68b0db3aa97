import type { ContextConfig } from '../../options/tenancy-options.js';

/**
 * Schema mode's floor under the ORM: every tenant connection starts with a search_path that holds no tenant table
 * (only the extension schemas the user lists), so a table name the ORM or hand-written SQL leaves unqualified
 * fails with "relation does not exist" instead of resolving to `public`, the hub's schema or another tenant's.
 *
 * It is set as a startup option (`options: '-c search_path=...'`), not with `SET`: it then is the session's default,
 * which `RESET`, `RESET ALL` and `DISCARD ALL` return to, and it never leaks to other clients through a pooler.
 */
export function renderSearchPath(schemas: readonly string[]): string {
  return schemas.join(',');
}

/** The template's driverOptions with the search_path startup option added (kept last, so it wins). */
export function withSearchPath(driverOptions: ContextConfig['driverOptions'], schemas: readonly string[]): Record<string, unknown> {
  const options = (driverOptions ?? {}) as Record<string, unknown>;
  const startup = typeof options.options === 'string' && options.options.trim() ? `${options.options} ` : '';
  return { ...options, options: `${startup}-c search_path=${renderSearchPath(schemas)}` };
}

/** Whether driverOptions can carry a startup option (a plain object, not a Kysely dialect or pool instance). */
export function acceptsStartupOptions(driverOptions: ContextConfig['driverOptions']): boolean {
  return driverOptions === undefined || Object.getPrototypeOf(driverOptions) === Object.prototype;
}

/** `current_setting('search_path')` as a list of schema names, e.g. `"$user", public` -> ['$user', 'public']. */
export function parseSearchPath(setting: string): string[] {
  return setting
    .split(',')
    .map((part) => part.trim().replace(/^"(.*)"$/, '$1'))
    .filter((part) => part.length > 0);
}
