// nestjs-mikro-tenancy/opentelemetry: tenant.id on spans and lifecycle spans (optional peer @opentelemetry/api)
export { TenancyTracingModule, TenancyTracing, type TenancyTracingOptions } from './tenancy-tracing.module.js';
export { tracingObserver, TENANT_ID_ATTRIBUTE } from './tracing-observer.js';
