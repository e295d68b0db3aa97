import { GraphQLError } from 'graphql';
import { clientStatusOf } from '../enter-tenant.js';

/** GraphQL's conventional codes (Apollo's names) for the statuses a tenant can be refused with. */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * A TenancyError (or any HttpException) as GraphQL's error shape: an entry of `errors[]` whose `extensions` carry a
 * `code` and the HTTP `status`, the same on Apollo and mercurius. Any other error is returned unchanged (your
 * driver's formatError decides what clients see of it).
 */
export function toGraphqlError(error: unknown): unknown {
  if (error instanceof GraphQLError) return error;
  const visible = clientStatusOf(error);
  if (!visible) return error;
  const code = CODE_BY_STATUS[visible.status] ?? (visible.status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST');
  return new GraphQLError(visible.message, { originalError: error as Error, extensions: { code, status: visible.status } });
}
