import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { MikroTenancyModule } from 'nestjs-mikro-tenancy';
import { TenantGraphqlInterceptor } from 'nestjs-mikro-tenancy/graphql';
import { defaultConfig, store, tenantConfig } from './common.js';

const tenancyOptions = { contexts: { default: defaultConfig }, tenancy: { isolation: 'schema' as const, store, config: tenantConfig } };

@Module({
  imports: [
    // the HTTP middleware serves every route but GraphQL, whose operations get their tenant from the interceptor
    MikroTenancyModule.forRoot({ ...tenancyOptions, excludeRoutes: ['graphql'] }),
    GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }),
  ],
  providers: [{ provide: APP_INTERCEPTOR, useClass: TenantGraphqlInterceptor }],
})
export class GraphqlAppModule {}
