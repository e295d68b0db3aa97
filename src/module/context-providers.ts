import { EntityManager, MikroORM } from '@mikro-orm/core';
import { driverClassesOf } from '../options/driver-classes.js';
import { getEntityManagerToken, getMikroORMToken } from '@mikro-orm/nestjs';
import { type Provider, Scope } from '@nestjs/common';
import { createTenantEntityManager } from '../scope/tenant-proxies.js';
import type { ContextConfig, MikroTenancyAsyncDeclaration } from '../options/tenancy-options.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { DEFAULT_CONTEXT, DEFAULT_TENANT_CONTEXT } from '../options/tokens.js';

/** `<name>_MikroORM` and `<name>_EntityManager`, the tokens @mikro-orm/nestjs's decorators inject. */
export function staticContextProviders(name: string): Provider[] {
  return [
    { provide: getMikroORMToken(name), useFactory: (runtime: TenancyRuntime) => runtime.orm(name), inject: [TenancyRuntime] },
    // the ORM's global EM: every call finds the request's fork through MikroORM's `context` option, as with @mikro-orm/nestjs
    { provide: getEntityManagerToken(name), useFactory: (orm: MikroORM) => orm.em, inject: [getMikroORMToken(name)] },
  ];
}

/** Class tokens for the default context: core `MikroORM`/`EntityManager` and, when known, the driver's own classes. */
export function defaultClassProviders(driverClasses: readonly (abstract new (...args: never[]) => unknown)[]): Provider[] {
  const orm = getMikroORMToken(DEFAULT_CONTEXT);
  const em = getEntityManagerToken(DEFAULT_CONTEXT);
  return [
    { provide: MikroORM, useExisting: orm },
    { provide: EntityManager, useExisting: em },
    ...driverClasses.map((cls): Provider => ({
      provide: cls,
      useExisting: Object.prototype.isPrototypeOf.call(EntityManager.prototype, cls.prototype) ? em : orm,
    })),
  ];
}

/** The driver's own EntityManager and MikroORM classes of a config, when they are not core's (no connection made). */
export function driverOwnClassesOf(config: ContextConfig | undefined): (abstract new (...args: never[]) => unknown)[] {
  if (!config?.driver) return [];
  const { entityManager, orm } = driverClassesOf(config);
  return [entityManager, orm].filter((cls) => cls !== EntityManager && cls !== MikroORM);
}

/** The tenant context's EntityManager token: a context-resolving singleton, or a request-scoped fork. */
export function tenantContextProviders(tenancy: NonNullable<MikroTenancyAsyncDeclaration['tenancy']>): Provider[] {
  const name = tenancy.contextName ?? DEFAULT_TENANT_CONTEXT;
  if (tenancy.injection === 'request') {
    return [
      {
        provide: getEntityManagerToken(name),
        scope: Scope.REQUEST,
        useFactory: (runtime: TenancyRuntime) => runtime.context.tenantEm(name),
        inject: [TenancyRuntime],
      },
    ];
  }
  return [
    {
      provide: getEntityManagerToken(name),
      useFactory: (runtime: TenancyRuntime) =>
        createTenantEntityManager(runtime.tenants?.entityManagerPrototype ?? EntityManager.prototype, () => runtime.context.tenantEm(name)),
      inject: [TenancyRuntime],
    },
  ];
}

/** Every token name a declaration registers, for `exports`. */
export function exportedTokens(declared: MikroTenancyAsyncDeclaration): string[] {
  const names = [...declared.contexts];
  const tokens = names.flatMap((n) => [getMikroORMToken(n), getEntityManagerToken(n)]);
  if (declared.tenancy) tokens.push(getEntityManagerToken(declared.tenancy.contextName ?? DEFAULT_TENANT_CONTEXT));
  return tokens;
}
