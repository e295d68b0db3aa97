import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { TenantRoleBypassesRlsError } from '../../errors/isolation.errors.js';

/**
 * Row-level security does not bind a superuser or a role with BYPASSRLS: with such a role only the ORM's filters
 * would keep tenants apart. Checked once at boot, on the role the tenant pool connects as.
 */
export async function checkRoleHonoursRls(orm: MikroORM, contextName: string, onBypass: 'refuse' | 'warn', logger: Logger): Promise<void> {
  const [role] = await orm.em
    .getConnection()
    .execute<{ name: string; superuser: boolean; bypass: boolean }[]>('select rolname as name, rolsuper as superuser, rolbypassrls as bypass from pg_roles where rolname = current_user');
  if (!role || (!role.superuser && !role.bypass)) return;
  const error = new TenantRoleBypassesRlsError(contextName, role.name, role.superuser ? 'is a superuser' : 'has BYPASSRLS');
  if (onBypass === 'refuse') throw error;
  logger.warn(error.message);
}
