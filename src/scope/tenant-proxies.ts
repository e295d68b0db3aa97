import type { EntityManager, EntityName, EntityRepository } from '@mikro-orm/core';

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

/**
 * An object that looks like `prototype` (so `instanceof` holds) and sends every property read, call and write to
 * whatever `resolve()` returns now. Methods run with the real target as `this` (EntityManager has private fields).
 */
function forwardTo<T extends object>(prototype: object, resolve: () => T): T {
  // one forwarding function per method name, made once: a call costs no bound function per property read, and the
  // target is found when the method is called (a method read in one request and called in another acts on the latter)
  const methods = new Map<string, ((...args: unknown[]) => unknown) | null>();
  const methodOf = (property: string): ((...args: unknown[]) => unknown) | null => {
    let method = methods.get(property);
    if (method === undefined) {
      method = isPrototypeMethod(prototype, property)
        ? (...args: unknown[]): unknown => {
            const target = resolve() as Record<string, (...a: unknown[]) => unknown>;
            return target[property]!(...args);
          }
        : null;
      methods.set(property, method);
    }
    return method;
  };
  return new Proxy(Object.create(prototype) as T, {
    get(shell, property) {
      if (typeof property === 'symbol' || INTROSPECTED.has(property)) return Reflect.get(shell, property);
      const method = methodOf(property);
      if (method) return method;
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

/** Whether `property` is a plain method somewhere on the prototype chain (not a getter, not an own instance field). */
function isPrototypeMethod(prototype: object, property: string): boolean {
  for (let level: object | null = prototype; level && level !== Object.prototype; level = Object.getPrototypeOf(level) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(level, property);
    if (descriptor) return typeof descriptor.value === 'function';
  }
  return false;
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
