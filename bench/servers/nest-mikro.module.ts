import { MikroOrmModule } from '@mikro-orm/nestjs';
import { EntityManager } from '@mikro-orm/postgresql';
import { Module, type Type } from '@nestjs/common';
import { articlesController } from './articles.controller.js';
import { itemsController } from './items.controller.js';
import { ormConfig } from './orm-config.js';

/** Scenarios 2 and 8 (relational), the baseline: plain @mikro-orm/nestjs with one database and its default request-context middleware. */
export function nestMikroModule(url: string): Type<unknown> {
  @Module({
    imports: [MikroOrmModule.forRoot({ ...ormConfig(url), registerRequestContext: true })],
    controllers: [itemsController(EntityManager), articlesController(EntityManager)],
  })
  class NestMikroBenchModule {}
  return NestMikroBenchModule;
}
