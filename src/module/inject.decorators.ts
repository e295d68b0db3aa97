import { getEntityManagerToken, getMikroORMToken } from '@mikro-orm/nestjs';
import { Inject } from '@nestjs/common';
import { DEFAULT_CONTEXT } from '../options/tokens.js';

/*
 * The decorators to use with this package: one import for everything. They inject @mikro-orm/nestjs's own tokens,
 * so its decorators work too when given a context name. Two differ on purpose: given no name,
 * `InjectEntityManager()` and `InjectMikroORM()` mean the `default` context, where @mikro-orm/nestjs's would ask
 * for `undefined_EntityManager`. `InjectRepository` is @mikro-orm/nestjs's own, re-exported.
 */

export { InjectRepository } from '@mikro-orm/nestjs';

export const InjectEntityManager = (contextName: string = DEFAULT_CONTEXT): PropertyDecorator & ParameterDecorator =>
  Inject(getEntityManagerToken(contextName));

export const InjectMikroORM = (contextName: string = DEFAULT_CONTEXT): PropertyDecorator & ParameterDecorator =>
  Inject(getMikroORMToken(contextName));
