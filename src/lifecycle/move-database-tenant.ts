import type { MikroORM } from '@mikro-orm/core';
import { TenancyUsageError } from '../errors/options.errors.js';
import { moveSideOf } from '../isolation/move/index.js';
import type { TenantProvisioning } from '../isolation/tenant-isolation.js';
import type { TenantRecord } from '../tenants/tenant-store.js';

/** Database isolation: a tenant's tables live in schema `public` of its own database; that schema is what moves. */
export const DATABASE_MODE_SCHEMA = 'public';

/**
 * The target of a database-isolation move: created and marked as the tenant's when missing; an existing one must
 * already carry the tenant's mark (an earlier run of this move made it). An unmarked database of the same name could
 * be anyone's, and the move empties the target's tables before it subscribes: refused.
 */
export async function prepareTargetDatabase<T extends TenantRecord>(provisioning: TenantProvisioning<T>, target: T, where: string): Promise<void> {
  const owner = await provisioning.ownerOf(target);
  if (!owner.exists) return provisioning.create(target);
  if (owner.owner === target.id) return;
  const name = provisioning.nameOf(target);
  throw new TenancyUsageError(
    `Cannot move tenant '${target.id}' to ${where}: database "${name}" exists there and is ${owner.owner === undefined ? 'not marked as any tenant\'s' : `marked as tenant '${owner.owner}'s`}. ` +
      `The move would empty it: drop or rename that database first (or fix tenancy.database()).`,
  );
}

/**
 * Only schema `public` moves: tables in any other schema of the tenant's database would be left behind, then
 * dropped with the source database. Refused before anything is created.
 */
export async function refuseTablesOutsidePublic(source: MikroORM, tenantId: string, where: string): Promise<void> {
  const rows = await moveSideOf(source).query<{ schema: string }>(
    `select distinct n.nspname as schema from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname not in ('public', 'pg_catalog', 'information_schema')
        and n.nspname not like 'pg\\_%' and n.nspname not like 'nmt\\_move\\_%' order by 1`,
  );
  if (!rows.length) return;
  throw new TenancyUsageError(
    `Cannot move tenant '${tenantId}' from ${where}: its database has tables outside schema "public" (in ${rows.map((r) => `"${r.schema}"`).join(', ')}), ` +
      `which a database-isolation move does not carry. Move them into "public" first.`,
  );
}
