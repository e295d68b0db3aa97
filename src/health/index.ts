// `nestjs-mikro-tenancy/health`: a separate entry point, so @nestjs/terminus stays an optional peer dependency.
export { type PingOptions, TenancyHealthIndicator } from './tenancy-health.indicator.js';
