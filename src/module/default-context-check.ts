import { EntityManager, MikroORM } from '@mikro-orm/core';
import type { Provider } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';
import { INTROSPECTED } from '../context/tenant-proxies.js';

const CLASS_TOKENS = [EntityManager, MikroORM] as const;
const describe = (cls: (typeof CLASS_TOKENS)[number]): string => (cls === EntityManager ? 'EntityManager' : 'MikroORM');

/**
 * Without a `default` context, `EntityManager`/`MikroORM` injected by class get a placeholder so that Nest can
 * finish wiring, and `findClassInjectionsWithoutDefault` then names every class that asked for one.
 */
export function placeholderClassProviders(): Provider[] {
  return CLASS_TOKENS.map((cls) => ({
    provide: cls,
    useValue: new Proxy(
      {},
      {
        get(target, property) {
          // Nest reads a few properties of every provider while wiring; only real use is an error
          if (typeof property === 'symbol' || INTROSPECTED.has(property)) return Reflect.get(target, property);
          throw new Error(`${describe(cls)} was injected by class, but no 'default' context is configured.`);
        },
      },
    ),
  }));
}

/** Classes whose constructor asks for `EntityManager` or `MikroORM` by class (not through an @Inject token). */
export function findClassInjectionsWithoutDefault(modules: ModulesContainer): string[] {
  const problems = new Set<string>();
  for (const module of modules.values()) {
    for (const wrapper of [...module.providers.values(), ...module.controllers.values()]) {
      const type = wrapper.metatype;
      if (typeof type !== 'function' || !type.prototype) continue;
      const params = (Reflect.getMetadata('design:paramtypes', type) ?? []) as unknown[];
      const overridden = new Set(((Reflect.getMetadata('self:paramtypes', type) ?? []) as { index: number }[]).map((p) => p.index));
      params.forEach((param, index) => {
        const cls = CLASS_TOKENS.find((c) => param === c || (typeof param === 'function' && param.prototype instanceof c));
        if (cls && !overridden.has(index)) {
          problems.add(
            `${type.name} injects ${describe(cls)} by class (constructor parameter ${index + 1}), but no 'default' context ` +
              `is configured: add contexts.default or inject a named context with @InjectEntityManager('name') / @InjectMikroORM('name')`,
          );
        }
      });
    }
  }
  return [...problems];
}
