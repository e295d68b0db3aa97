// nestjs-mikro-tenancy/prometheus: pool, unit-of-work, lifecycle and migration metrics (optional peer prom-client)
export { TenancyMetricsModule, TenancyMetrics } from './tenancy-metrics.module.js';
export { registerTenancyMetrics, type TenancyMetricsOptions } from './tenancy-metrics.js';
export { OTHER_TENANTS } from '../../observability/top-tenant-counts.js';
