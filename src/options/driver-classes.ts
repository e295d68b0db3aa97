import { Configuration, EntityManager, type MikroORM } from '@mikro-orm/core';
import type { ContextConfig } from './tenancy-options.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EntityManagerClass = new (...args: any[]) => EntityManager;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MikroORMClass = new (...args: any[]) => MikroORM;

/**
 * The EntityManager and MikroORM classes a config's driver uses (e.g. PostgreSQL's own), learnt the way
 * @mikro-orm/nestjs does: by instantiating the driver, which makes no connection.
 */
export function driverClassesOf(config: ContextConfig): { entityManager: EntityManagerClass; orm: MikroORMClass } {
  const driver = new Configuration(config, false).getDriver();
  const em = driver.createEntityManager();
  return {
    entityManager: (em instanceof EntityManager ? em.constructor : EntityManager) as EntityManagerClass,
    orm: driver.getORMClass() as MikroORMClass,
  };
}
