/** `nestjs-mikro-tenancy/graphql`: the tenant of each GraphQL operation (needs @nestjs/graphql and graphql). */
export { TenantGraphqlInterceptor } from './tenant-graphql.interceptor.js';
export { toGraphqlError } from './graphql-errors.js';
