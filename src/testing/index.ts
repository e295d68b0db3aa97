// nestjs-mikro-tenancy/testing: cheap tenants for your app's tests (cloned from a migrated template), isolation checks
export { TenancyTesting, type TenancyTestingOptions } from './tenancy-testing.js';
export { SharedTablesNotCopiedError, TemplateNotCloneableError, TenantIsolationViolation } from './template-errors.js';
