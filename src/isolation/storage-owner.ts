/**
 * Who a schema or database belongs to. The library writes an owner mark (a PostgreSQL comment on the schema or
 * database) when it creates or migrates a tenant, and checks it before serving: a schema or database marked for one
 * tenant is never served to, migrated for, or dropped by another, in any process.
 */
const MARK_PREFIX = 'nestjs-mikro-tenancy:tenant=';

/** What the database says about a tenant's schema or database. */
export type StorageOwner =
  | { readonly exists: false }
  /** `owner` is undefined when the schema or database carries no mark (made by hand or by an older version). */
  | { readonly exists: true; readonly owner: string | undefined };

/** The comment that marks a schema or database as this tenant's. Tenant ids are validated identifiers. */
export function ownerMark(tenantId: string): string {
  return `${MARK_PREFIX}${tenantId}`;
}

/** The tenant named by a comment, or undefined when the comment is not an owner mark. */
export function ownerFromComment(comment: string | null | undefined): string | undefined {
  return comment?.startsWith(MARK_PREFIX) ? comment.slice(MARK_PREFIX.length) : undefined;
}

/** Reads a schema's owner: one row (`mark`) when it exists. */
export const SCHEMA_OWNER_SQL = `select obj_description(oid, 'pg_namespace') as mark from pg_namespace where nspname = ?`;

/** The current database's name and owner mark. */
export const DATABASE_OWNER_SQL =
  `select current_database() as db, shobj_description(oid, 'pg_database') as mark from pg_database where datname = current_database()`;

/** A database's owner mark, read from any database of its server. */
export const NAMED_DATABASE_OWNER_SQL = `select shobj_description(oid, 'pg_database') as mark from pg_database where datname = ?`;

export function storageOwnerOf(rows: readonly { mark?: string | null }[]): StorageOwner {
  const [row] = rows;
  return row ? { exists: true, owner: ownerFromComment(row.mark) } : { exists: false };
}

/** Bounds the names remembered by one process (a directory of more tenants than this still works, unchecked twice). */
const MAX_CLAIMS = 100_000;

/**
 * The schema or database name each tenant served by this process derived. A second tenant deriving a name already
 * taken by another is refused before any database check, and whatever the marks say.
 */
export class StorageClaims {
  readonly #tenantOf = new Map<string, string>();

  /** The other tenant that already derived `name`, or undefined after recording this tenant's claim. */
  claim(name: string, tenantId: string): string | undefined {
    const holder = this.#tenantOf.get(name);
    if (holder !== undefined && holder !== tenantId) return holder;
    if (holder === undefined) {
      if (this.#tenantOf.size >= MAX_CLAIMS) this.#tenantOf.delete(this.#tenantOf.keys().next().value as string);
      this.#tenantOf.set(name, tenantId);
    }
    return undefined;
  }

  /** Forgets every claim of a tenant (dropped). */
  releaseTenant(tenantId: string): void {
    for (const [name, holder] of this.#tenantOf) if (holder === tenantId) this.#tenantOf.delete(name);
  }

  /** Forgets a tenant's claim (dropped tenant, or its record now derives another name). */
  release(name: string, tenantId: string): void {
    if (this.#tenantOf.get(name) === tenantId) this.#tenantOf.delete(name);
  }
}
