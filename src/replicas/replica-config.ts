/** The parts of a MikroORM `replicas` entry (its `ConnectionOptions`) that decide where a replica connection lands. */
export interface ReplicaEntry {
  name?: string;
  dbName?: string;
  clientUrl?: string;
  host?: string;
  port?: number;
  driverOptions?: unknown;
}

/**
 * The database a replica entry connects to, worked out as MikroORM does it (DatabaseDriver.createReplicas, then
 * Connection.getConnectionOptions): its own `dbName`; else the path of its own `clientUrl` when that URL has one (then
 * the primary's `dbName` is *not* copied: `postgresql://replica:5432/` means the server's default database); else the
 * primary's database. Undefined when the entry names no usable database (an empty path) or its URL is invalid.
 */
export function replicaDatabaseOf(replica: ReplicaEntry, primaryDatabase: string | undefined): string | undefined {
  if (replica.dbName) return replica.dbName;
  if (replica.clientUrl) {
    if (!URL.canParse(replica.clientUrl)) return undefined;
    const path = new URL(replica.clientUrl).pathname;
    if (path) return decodeURIComponent(path).replace(/^\//, '') || undefined;
  }
  return primaryDatabase;
}

/** Whether a replica entry names a database of its own (`dbName`, or a `clientUrl` with a path). */
export function namesDatabase(replica: ReplicaEntry): boolean {
  return Boolean(replica.dbName) || (typeof replica.clientUrl === 'string' && URL.canParse(replica.clientUrl) && new URL(replica.clientUrl).pathname !== '');
}

/** A short name for a replica in messages and health reports: its `name`, else host:port, else its position. */
export function replicaLabel(replica: ReplicaEntry, index: number): string {
  if (replica.name) return replica.name;
  if (replica.host || replica.port) return `${replica.host ?? ''}:${replica.port ?? ''}`;
  if (replica.clientUrl && URL.canParse(replica.clientUrl)) {
    const url = new URL(replica.clientUrl); // never the whole URL: it may carry a password
    return `${url.hostname}:${url.port}`;
  }
  return `replica ${index + 1}`;
}

/**
 * What is wrong with a context's `replicas`, one line each, prefixed by `label`:
 * - each replica must land in `expectedDatabase` (the primary's), so a replica config can never send reads to another
 *   database; `expectedDatabase` 'own' (database-mode template) refuses any entry that names a database, since every
 *   tenant's replica connection must use that tenant's database;
 * - driverOptions must be a plain object: the library adds the primary's guards (and schema mode's search_path) to it.
 */
export function replicaProblems(label: string, replicas: unknown, expectedDatabase: string | undefined | 'own'): string[] {
  if (replicas === undefined) return [];
  if (!Array.isArray(replicas)) return [`${label}: replicas must be an array of connection options ({ host, port, ... })`];
  const problems: string[] = [];
  replicas.forEach((replica: unknown, index) => {
    const where = `${label}: replicas[${index}]`;
    if (typeof replica !== 'object' || replica === null) return void problems.push(`${where} must be an object of connection options ({ host, port, ... })`);
    const entry = replica as ReplicaEntry;
    if (entry.clientUrl !== undefined && (typeof entry.clientUrl !== 'string' || !URL.canParse(entry.clientUrl))) {
      problems.push(`${where}: clientUrl is not a valid URL`); // the URL itself is never echoed: it may carry a password
      return;
    }
    if (entry.driverOptions !== undefined && (typeof entry.driverOptions !== 'object' || entry.driverOptions === null || Object.getPrototypeOf(entry.driverOptions) !== Object.prototype)) {
      problems.push(
        `${where}: driverOptions must be a plain object of pg options (not a Kysely dialect, pool or function): the context's ` +
          `own driverOptions are merged under it, so the replica keeps the pool guards (and, in schema mode, the fail-closed search_path)`,
      );
    }
    if (expectedDatabase === 'own') {
      if (namesDatabase(entry)) {
        problems.push(
          `${where} names a database of its own, so every tenant would read from it: leave dbName (and the clientUrl path) out, ` +
            `so that each tenant's replica connection uses that tenant's database, or return replicas from tenancy.database(tenant)`,
        );
      }
      return;
    }
    const database = replicaDatabaseOf(entry, expectedDatabase);
    if (database === undefined) {
      problems.push(`${where} names no database (a clientUrl ending in '/'); leave the path out to use the primary's database`);
    } else if (expectedDatabase !== undefined && database !== expectedDatabase) {
      problems.push(
        `${where} connects to database "${database}", not "${expectedDatabase}" like its primary: a read replica must serve the ` +
          `primary's own database. Fix its dbName or clientUrl (or leave them out to use the primary's)`,
      );
    }
  });
  return problems;
}

/**
 * A replica's driverOptions with the primary's under them. MikroORM gives a replica the primary's driverOptions only
 * when it has none of its own; then the primary's pool hooks (the library's pool guards and connection accounting)
 * and startup `options` (schema mode's fail-closed search_path) would be lost. So: the replica's keys win, except that
 * both `onPoolCreated` hooks run (the primary's first) and the primary's startup options come last (they win).
 */
export function inheritDriverOptions(primary: unknown, replica: unknown): unknown {
  const isPlain = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
  if (!isPlain(replica) || !isPlain(primary)) return replica;
  const merged: Record<string, unknown> = { ...primary, ...replica };
  const hooks = [primary.onPoolCreated, replica.onPoolCreated].filter((hook): hook is (pool: unknown) => unknown => typeof hook === 'function');
  if (hooks.length) merged.onPoolCreated = (pool: unknown) => hooks.map((hook) => hook(pool)).at(-1);
  const startup = [replica.options, primary.options].filter((o): o is string => typeof o === 'string' && o.trim() !== '');
  if (startup.length) merged.options = startup.join(' ');
  return merged;
}
