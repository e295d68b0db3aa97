import { type EntityClass, type EntityManager, type FilterQuery, type FindOptions, Reference, Utils, wrap } from '@mikro-orm/core';

export interface LoadRelatedOptions<E extends object> {
  /** Narrows the rows (e.g. `{ name: 'login' }`); combined with the key condition. */
  where?: FilterQuery<E>;
  /** Order within each key's list. */
  orderBy?: FindOptions<E>['orderBy'];
  /** Keys per query; a longer list takes ceil(keys / chunkSize) queries. Default 1000. */
  chunkSize?: number;
}

const DEFAULT_CHUNK_SIZE = 1_000;

/**
 * Loads, from another context, the rows whose `foreignKey` holds one of `keys`: the events of a list of hub users in
 * the analytics database, the invoices of a list of orders in a legacy database. A join cannot span two databases
 * (two contexts, or a tenant and the hub), so the rows are fetched with one `where foreignKey in (...)` query per
 * chunk of keys, never one per key, and grouped by key. Every key given is in the result, with `[]` when no row
 * matches; null and undefined keys are left out.
 *
 * ```ts
 * const events = await loadRelated(this.analytics, AnalyticsEvent, 'subject', users.map((u) => u.email));
 * users.map((u) => ({ ...u, events: events.get(u.email) }));
 * ```
 */
export async function loadRelated<E extends object, K extends keyof E & string>(
  em: EntityManager,
  entity: EntityClass<E>,
  foreignKey: K,
  keys: Iterable<E[K] | null | undefined>,
  options: LoadRelatedOptions<E> = {},
): Promise<Map<NonNullable<E[K]>, E[]>> {
  const wanted = [...new Set(keys)].filter((key): key is NonNullable<E[K]> => key !== null && key !== undefined);
  const grouped = new Map<NonNullable<E[K]>, E[]>(wanted.map((key) => [key, []]));
  const chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  for (let start = 0; start < wanted.length; start += chunkSize) {
    const chunk = wanted.slice(start, start + chunkSize);
    const byKey = { [foreignKey]: { $in: chunk } } as FilterQuery<E>;
    const where = (options.where ? { $and: [options.where, byKey] } : byKey) as FilterQuery<E>;
    const rows = await em.find(entity, where as never, { orderBy: options.orderBy } as FindOptions<E>);
    for (const row of rows) grouped.get(keyOf(row[foreignKey]) as NonNullable<E[K]>)?.push(row);
  }
  return grouped;
}

/** A many-to-one's value is an entity (or a Reference to one): its key is its primary key. */
function keyOf(value: unknown): unknown {
  const target = Reference.isReference(value) ? value.unwrap() : value;
  return Utils.isEntity(target) ? wrap(target, true).getPrimaryKey() : value;
}
