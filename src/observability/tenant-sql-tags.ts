import type { ContextConfig } from '../options/tenancy-options.js';

/**
 * ` /*tenant='acme'*\/` for a validated tenant id, in the sqlcommenter format: the value URL-encoded, with `'` and
 * `*` encoded too, so whatever the id rules allow can neither end the comment nor the quoted value, and no `?`
 * reaches MikroORM's placeholder formatting.
 */
export function tenantSqlTag(tenantId: string): string {
  const value = encodeURIComponent(tenantId).replace(/['*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return ` /*tenant='${value}'*/`;
}

/**
 * Optional SQL comment tags on the tenant context's queries (opt-in: off until `enable()`), so pg_stat_activity,
 * the server log and auto_explain show which tenant a query runs for. Installed once on the tenant template's
 * `onQuery` (MikroORM's hook, the user's own one kept and run first); one per module instance.
 */
export class TenantSqlTags {
  #enabled = 0;

  /** Turns tags on; returns the matching `off` (tags stay on while any enabler is on). */
  enable(): () => void {
    this.#enabled++;
    let on = true;
    return () => {
      if (on) this.#enabled--;
      on = false;
    };
  }

  /** The template with its `onQuery` tagging each query with `currentTenantId()` while tags are on. */
  install(config: ContextConfig, currentTenantId: () => string | undefined): ContextConfig {
    const own = config.onQuery;
    const onQuery = (sql: string, params: readonly unknown[]): string => {
      const query = own ? own(sql, params) : sql;
      const tenantId = this.#enabled > 0 ? currentTenantId() : undefined;
      return tenantId === undefined ? query : query + tenantSqlTag(tenantId);
    };
    return { ...config, onQuery };
  }
}
