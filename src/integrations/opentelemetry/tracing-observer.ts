import { type Attributes, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { TenancyObserver, TenantOperation } from '../../observability/tenancy-observers.js';

/** The attribute naming the tenant, on the active span of its work and on lifecycle spans. */
export const TENANT_ID_ATTRIBUTE = 'tenant.id';

function attributesOf(operation: TenantOperation): Attributes {
  return {
    'tenancy.operation': operation.name,
    ...(operation.tenantId === undefined ? {} : { [TENANT_ID_ATTRIBUTE]: operation.tenantId }),
    ...(operation.direction === undefined ? {} : { 'tenancy.migration.direction': operation.direction }),
  };
}

/**
 * Tracing for tenant work: the span active when a unit of tenant work starts (an HTTP request's, a job's, the
 * caller's of `TenancyService.run`) gets `tenant.id`; each lifecycle operation gets a span of its own
 * (`tenancy.create`, `tenancy.drop`, `tenancy.migrate` per tenant, `tenancy.suspend`, `tenancy.resume`) with the
 * tenant, `tenancy.outcome` and, on failure, the exception and an error status. The ids are validated ones.
 */
export function tracingObserver(tracer: Tracer): TenancyObserver {
  return {
    started(tenantId) {
      trace.getActiveSpan()?.setAttribute(TENANT_ID_ATTRIBUTE, tenantId);
      return undefined;
    },
    operation: (operation, run) =>
      tracer.startActiveSpan(`tenancy.${operation.name}`, { attributes: attributesOf(operation) }, async (span) => {
        try {
          const result = await run();
          span.setAttribute('tenancy.outcome', 'ok');
          return result;
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          span.setAttributes({ 'tenancy.outcome': 'error', 'error.type': failure.name });
          span.recordException(failure);
          span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
          throw error;
        } finally {
          span.end();
        }
      }),
  };
}
