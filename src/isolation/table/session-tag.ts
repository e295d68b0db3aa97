import { createHash } from 'node:crypto';

/**
 * The application_name of a tenant's transactions while they run on shared tables (set with the tenant setting, in
 * the same statement, and reverted at commit): how a drop or a move finds the sessions still working for the tenant,
 * and how pg_stat_activity attributes load. At most 63 bytes (PostgreSQL truncates longer names): a longer one keeps
 * its start and ends with a hash of the whole id, so two long ids that share their first characters never share a
 * tag (a drop of one would end the other's transactions).
 */
export function tenantSessionTag(tenantId: string): string {
  const tag = `nmt:${tenantId}`;
  if (Buffer.byteLength(tag) <= 63) return tag;
  const hash = createHash('sha256').update(tenantId).digest('hex').slice(0, 16);
  return `${Buffer.from(tag).subarray(0, 63 - 17).toString().replace(/\uFFFD+$/, '')}~${hash}`;
}
