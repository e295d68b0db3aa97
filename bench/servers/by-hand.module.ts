import type { IncomingMessage, ServerResponse } from 'node:http';
import { type EntityMetadata, MikroORM, RequestContext } from '@mikro-orm/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { EntityManager } from '@mikro-orm/postgresql';
import { Inject, Injectable, type MiddlewareConsumer, Module, type NestMiddleware, NotFoundException, RequestMethod, type Type } from '@nestjs/common';
import { tenantId, tenantSchemaName } from '../scenarios.js';
import { articlesController } from './articles.controller.js';
import { itemsController } from './items.controller.js';
import { ormConfig } from './orm-config.js';

/**
 * Scenario 9, the "by hand" peer of schema mode: what a user writes without this package. Plain @mikro-orm/nestjs
 * on the database holding the tenant schemas, its own request-context middleware off, and a Nest middleware that
 * reads `x-tenant-id`, answers 404 for an unknown tenant, and runs the request in a fork pinned to the tenant's
 * schema: `RequestContext.create(orm.em, next, { schema })` (the one-fork form of
 * `RequestContext.create(orm.em.fork({ schema }), next)`, which forks twice).
 *
 * Made correct on purpose: `fork({ schema })` alone qualifies only a query's root table, so joined and pivot tables
 * (the relational workload's author, tag, article_tags) would resolve through search_path, to `public`. Every entity
 * is made wildcard-schema (`schema: '*'`), as a careful user would write on each `@Entity()`; MikroORM then
 * qualifies every table with the fork's schema. What it still lacks compared with the library: a fail-closed
 * search_path, id rules and a store with a cache, and the other isolation layers of docs/isolation.md.
 */
export function byHandSchemaModule(url: string, tenants: number): Type<unknown> {
  const known = new Set(Array.from({ length: tenants }, (_, i) => tenantId(i + 1)));

  @Injectable()
  class TenantSchemaMiddleware implements NestMiddleware {
    constructor(@Inject(MikroORM) private readonly orm: MikroORM) {}

    use(req: IncomingMessage, _res: ServerResponse, next: () => void): void {
      const id = req.headers['x-tenant-id'];
      if (typeof id !== 'string' || !known.has(id)) throw new NotFoundException('unknown tenant');
      RequestContext.create(this.orm.em, next, { schema: tenantSchemaName(id) });
    }
  }

  const config = ormConfig(url);
  @Module({
    imports: [
      MikroOrmModule.forRoot({
        ...config,
        registerRequestContext: false,
        // the same as `@Entity({ schema: '*' })` on every entity (the entity classes are shared with other scenarios)
        discovery: { ...config.discovery, onMetadata: (meta: EntityMetadata) => void (meta.schema = '*') },
      }),
    ],
    controllers: [itemsController(EntityManager), articlesController(EntityManager)],
    providers: [TenantSchemaMiddleware],
  })
  class ByHandSchemaBenchModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(TenantSchemaMiddleware).forRoutes({ path: '{*all}', method: RequestMethod.ALL });
    }
  }
  return ByHandSchemaBenchModule;
}
