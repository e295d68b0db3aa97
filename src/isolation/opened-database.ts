import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { TenantConnectionMismatchError } from '../errors/isolation.errors.js';
import { DATABASE_OWNER_SQL, ownerFromComment } from './storage-owner.js';

/**
 * A tenant ORM just opened on a database of its own (database isolation, schema isolation's database tier): its
 * connection must be in `dbName` (refused otherwise: the options lead elsewhere, `fix` says where to look). Returns the
 * other tenant whose owner mark the database carries, if any; the caller refuses it. An unmarked database is served,
 * as storage made by hand or by older versions is (storage-owner.ts).
 */
export async function foreignOwnerOfOpenedDatabase(orm: MikroORM, tenantId: string, dbName: string, fix: string, logger: Logger): Promise<string | undefined> {
  const [row] = await orm.em.getConnection().execute<{ db: string; mark: string | null }[]>(DATABASE_OWNER_SQL);
  if (row?.db !== dbName) {
    logger.error(`Tenant '${tenantId}': connected to database "${String(row?.db)}" instead of "${dbName}": refused.`);
    throw new TenantConnectionMismatchError(tenantId, `its connection options lead to another database than the one derived for it ("${dbName}"). ${fix}`);
  }
  const owner = ownerFromComment(row.mark);
  return owner !== undefined && owner !== tenantId ? owner : undefined;
}
