/** The options object given to forRoot or returned by the forRootAsync factory. */
export const MIKRO_TENANCY_OPTIONS = Symbol('MIKRO_TENANCY_OPTIONS');
/** The names of contexts and tenancy settings known before any factory runs. */
export const MIKRO_TENANCY_DECLARATION = Symbol('MIKRO_TENANCY_DECLARATION');
/** The name of the context injected by class (`EntityManager`, `MikroORM`) and by decorators given no name. */
export const DEFAULT_CONTEXT = 'default';
/** Default name of the tenant context. */
export const DEFAULT_TENANT_CONTEXT = 'tenant';

/** Routes the per-request middleware runs on by default: every route (path-to-regexp 8 wildcard). */
export const ALL_ROUTES: readonly string[] = ['{*all}'];

/** Schema isolation's shared tier: the schema of the shared tables in each server's shared-tier database (reserved). */
export const SHARED_TIER_SCHEMA = 'nmt_shared';
