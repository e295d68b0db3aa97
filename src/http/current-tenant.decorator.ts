import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { getRequestTenant } from '../scope/request-tenant.js';

/** Injects the current request's tenant record (undefined when the request has none). */
export const CurrentTenant = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  getRequestTenant(context.switchToHttp().getRequest<object>()),
);
