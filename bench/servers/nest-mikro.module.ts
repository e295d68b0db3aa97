import { MikroOrmModule } from '@mikro-orm/nestjs';
import { EntityManager } from '@mikro-orm/postgresql';
import { Module, type Type } from '@nestjs/common';
import { itemsController } from './items.controller.js';
import { ormConfig } from './orm-config.js';

/** Scenario 2, the baseline: plain @mikro-orm/nestjs with one database and its default request-context middleware. */
export function nestMikroModule(url: string): Type<unknown> {
  @Module({
    imports: [MikroOrmModule.forRoot({ ...ormConfig(url), registerRequestContext: true })],
    controllers: [itemsController(EntityManager)],
  })
  class NestMikroBenchModule {}
  return NestMikroBenchModule;
}
