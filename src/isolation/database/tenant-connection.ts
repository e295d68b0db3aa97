import { TenantConnectionMismatchError } from '../../errors/isolation.errors.js';
import type { ContextConfig } from '../../options/tenancy-options.js';
import { replicaProblems } from '../../replicas/replica-config.js';

/** The options that decide where a connection lands. MikroORM prefers each of them over the same part of `clientUrl`. */
const WHERE_OPTIONS = ['dbName', 'host', 'port', 'user'] as const;
type WhereOption = (typeof WHERE_OPTIONS)[number];

export interface TenantConnection {
  /** The template with the tenant's options over it. */
  options: ContextConfig;
  /** The database the tenant's connections must be in (checked with `current_database()` on open). */
  dbName: string;
}

/**
 * Database mode: a tenant's final connection options, computed here rather than left to MikroORM's merging of
 * `clientUrl` with the explicit options, where a template's `dbName` (or host, port, user) silently wins over the
 * tenant's `clientUrl`, so every tenant would land in the template's database. Refused (500, naming the tenant and
 * the option): a combination that can land elsewhere, a tenant with no database of its own, or the database of the
 * template or of a static context.
 */
export function resolveTenantConnection(
  tenantId: string,
  template: ContextConfig,
  overrides: Partial<ContextConfig>,
  reservedDatabases: readonly string[],
): TenantConnection {
  const fromUrl = overrides.clientUrl ? partsOfUrl(tenantId, overrides.clientUrl) : {};
  for (const option of WHERE_OPTIONS) {
    const inTemplate = template[option];
    const inUrl = fromUrl[option];
    if (overrides[option] !== undefined || inTemplate === undefined || inUrl === undefined || String(inTemplate) === String(inUrl)) continue;
    throw new TenantConnectionMismatchError(
      tenantId,
      `tenancy.database() returns a clientUrl, but tenancy.config also sets '${option}', which MikroORM would use instead of ` +
        `the URL's, so the tenant would connect to the template's ${option === 'dbName' ? 'database' : option}. Remove ` +
        `'${option}' from tenancy.config, or return '${option}' from tenancy.database() as well.`,
    );
  }
  const dbName = overrides.dbName ?? fromUrl.dbName;
  if (!dbName) {
    throw new TenantConnectionMismatchError(
      tenantId,
      `tenancy.database() names no database for it (neither 'dbName' nor a clientUrl with a database), so it would ` +
        `connect to the template's. Return { dbName } (or a clientUrl ending in /<database>).`,
    );
  }
  if (dbName === template.dbName || reservedDatabases.includes(dbName)) {
    throw new TenantConnectionMismatchError(
      tenantId,
      `tenancy.database() gives it a database that is ${dbName === template.dbName ? "the tenant template's (tenancy.config.dbName)" : "a static context's"}. ` +
        `Every tenant needs a database of its own.`,
    );
  }
  const { clientUrl: templateUrl, ...rest } = template;
  // a template clientUrl is kept only for what the tenant does not set itself
  const options: ContextConfig = { ...rest, ...(overrides.clientUrl ? {} : { clientUrl: templateUrl }), ...overrides, dbName };
  if (options.clientUrl === undefined) delete options.clientUrl;
  // read replicas (the template's or the tenant's) must land in the tenant's database too; checked again once connected
  const [replicaProblem] = replicaProblems('read replica config (tenancy.database() or tenancy.config)', options.replicas, dbName);
  if (replicaProblem !== undefined) throw new TenantConnectionMismatchError(tenantId, replicaProblem);
  return { options, dbName };
}

function partsOfUrl(tenantId: string, clientUrl: string): Partial<Record<WhereOption, string>> {
  let url: URL;
  try {
    url = new URL(clientUrl);
  } catch {
    // the URL itself is never echoed: it may carry a password
    throw new TenantConnectionMismatchError(tenantId, `tenancy.database() returns a clientUrl that is not a valid URL.`);
  }
  const dbName = decodeURIComponent(url.pathname).replace(/^\//, '');
  return {
    ...(dbName ? { dbName } : {}),
    ...(url.hostname ? { host: decodeURIComponent(url.hostname) } : {}),
    ...(url.port ? { port: url.port } : {}),
    ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
  };
}
