import type { EntityManager, EntityName, EntityRepository } from '@mikro-orm/core';

/**
 * An object that looks like `prototype` (so `instanceof` holds) and sends every property read, call and write to
 * whatever `resolve()` returns now. Methods run with the real target as `this` (EntityManager has private fields).
 */
/**
 * Read by Nest and Node on every provider (promise detection, lifecycle hooks, inspection), also at boot where no
 * tenant exists: answered from the prototype, never forwarded.
 */
export const INTROSPECTED = new Set<PropertyKey>([
  'then',
  'constructor',
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
  'toJSON',
]);

function forwardTo<T extends object>(prototype: object, resolve: () => T): T {
  return new Proxy(Object.create(prototype) as T, {
    get(shell, property) {
      if (typeof property === 'symbol' || INTROSPECTED.has(property)) return Reflect.get(shell, property);
      const target = resolve();
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set(_shell, property, value) {
      return Reflect.set(resolve(), property, value);
    },
    has(_shell, property) {
      return Reflect.has(resolve(), property);
    },
  });
}

/** The injected tenant EntityManager: a singleton standing for the current request's tenant fork. */
export function createTenantEntityManager(prototype: object, resolve: () => EntityManager): EntityManager {
  return forwardTo(prototype, resolve);
}

/** The injected tenant repository: a singleton standing for `currentTenantFork.getRepository(entity)`. */
export function createTenantRepository<E extends object>(
  entity: EntityName<E>,
  repositoryClass: abstract new (...args: never[]) => object,
  resolve: () => EntityManager,
): EntityRepository<E> {
  return forwardTo(repositoryClass.prototype as object, () => resolve().getRepository(entity)) as EntityRepository<E>;
}
