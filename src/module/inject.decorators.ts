import type { EntityName } from '@mikro-orm/core';
import { getEntityManagerToken, getMikroORMToken, getRepositoryToken } from '@mikro-orm/nestjs';
import { Inject } from '@nestjs/common';
import { DEFAULT_CONTEXT } from './tokens.js';

/**
 * @mikro-orm/nestjs's decorators, with one difference: given no name they mean the `default` context
 * (theirs would ask for `undefined_EntityManager`). With a name they are the same tokens.
 */
export const InjectEntityManager = (contextName: string = DEFAULT_CONTEXT): PropertyDecorator & ParameterDecorator =>
  Inject(getEntityManagerToken(contextName));

export const InjectMikroORM = (contextName: string = DEFAULT_CONTEXT): PropertyDecorator & ParameterDecorator =>
  Inject(getMikroORMToken(contextName));

export const InjectRepository = (entity: EntityName<object>, contextName?: string): PropertyDecorator & ParameterDecorator =>
  Inject(getRepositoryToken(entity, contextName));
