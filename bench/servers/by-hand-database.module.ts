import type { IncomingMessage, ServerResponse } from 'node:http';
import { MikroORM, RequestContext } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { Inject, Injectable, type MiddlewareConsumer, Module, type NestMiddleware, NotFoundException, type OnModuleDestroy, RequestMethod, type Type } from '@nestjs/common';
import { tenantDatabaseName, tenantId } from '../scenarios.js';
import { articlesController } from './articles.controller.js';
import { itemsController } from './items.controller.js';
import { ormConfig } from './orm-config.js';

const TENANT_ORMS = Symbol('by-hand tenant ORMs');
type TenantOrms = ReadonlyMap<string, MikroORM>;

/**
 * Scenario 9, the "by hand" peer of database mode (warm): what a user writes without this package. One MikroORM per
 * tenant database, all opened at boot with the same pool per tenant as the library's scenario, and a Nest middleware
 * that reads `x-tenant-id`, answers 404 for an unknown tenant and runs the request in a fork of that tenant's ORM
 * (`RequestContext.create(orm.em, next)`). The controllers get the first ORM's EntityManager, which resolves the
 * request's fork through MikroORM's request context (every ORM has the context name 'default'). It has none of the
 * library's other layers: no bound on open tenants, no lease keeping a tenant's ORM open while a handler runs, no
 * connection budget, no store or cache.
 */
export function byHandDatabaseModule(url: string, tenants: number, connectionsPerTenant: number): Type<unknown> {
  @Injectable()
  class TenantDatabaseMiddleware implements NestMiddleware {
    constructor(@Inject(TENANT_ORMS) private readonly orms: TenantOrms) {}

    use(req: IncomingMessage, _res: ServerResponse, next: () => void): void {
      const id = req.headers['x-tenant-id'];
      const orm = typeof id === 'string' ? this.orms.get(id) : undefined;
      if (!orm) throw new NotFoundException('unknown tenant');
      RequestContext.create(orm.em, next);
    }
  }

  @Injectable()
  class TenantOrmsCloser implements OnModuleDestroy {
    constructor(@Inject(TENANT_ORMS) private readonly orms: TenantOrms) {}

    async onModuleDestroy(): Promise<void> {
      await Promise.all([...this.orms.values()].map((orm) => orm.close()));
    }
  }

  const open = async (): Promise<TenantOrms> => {
    const ids = Array.from({ length: tenants }, (_, i) => tenantId(i + 1));
    const orms = await Promise.all(ids.map((id) => MikroORM.init({ ...ormConfig(url, connectionsPerTenant), dbName: tenantDatabaseName(id) })));
    return new Map(ids.map((id, i) => [id, orms[i]!]));
  };

  @Module({
    controllers: [itemsController(EntityManager), articlesController(EntityManager)],
    providers: [
      { provide: TENANT_ORMS, useFactory: open },
      { provide: EntityManager, inject: [TENANT_ORMS], useFactory: (orms: TenantOrms) => [...orms.values()][0]!.em },
      TenantDatabaseMiddleware,
      TenantOrmsCloser,
    ],
  })
  class ByHandDatabaseBenchModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(TenantDatabaseMiddleware).forRoutes({ path: '{*all}', method: RequestMethod.ALL });
    }
  }
  return ByHandDatabaseBenchModule;
}
