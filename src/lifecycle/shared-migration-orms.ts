import type { MikroORM } from '@mikro-orm/core';
import type { TenantRecord } from '../tenants/tenant-store.js';

/** The migration ORMs a shared-ORM run opened (schema mode), by what reaches each tenant. */
export interface SharedOrms<T extends TenantRecord> {
  /** The shared ORM reaching this tenant; undefined when none does (it needs one of its own). */
  of(record: T): Promise<MikroORM> | undefined;
  close(): Promise<void>;
}

/**
 * Shared migration ORMs, opened on first use: one per key (several servers: one per server), else one. A failed open
 * is not kept, so the next tenant tries again.
 */
export function sharedMigrationOrms<T extends TenantRecord>(keyOf: (record: T) => string | undefined, open: (record: T, key: string) => Promise<MikroORM>): SharedOrms<T> {
  const opened = new Map<string, Promise<MikroORM>>();
  return {
    of: (record) => {
      const key = keyOf(record);
      if (key === undefined) return undefined;
      let orm = opened.get(key);
      if (!orm) {
        const opening = open(record, key);
        opened.set(key, opening);
        opening.catch(() => opened.get(key) === opening && opened.delete(key));
        orm = opening;
      }
      return orm;
    },
    close: async () => {
      const orms = await Promise.allSettled(opened.values());
      for (const orm of orms) if (orm.status === 'fulfilled') await orm.value.close();
    },
  };
}
