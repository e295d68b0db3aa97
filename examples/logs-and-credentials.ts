import { NotesService } from './notes.js';
import { AppModule } from './tenancy.module.js';

import { type CanActivate, Controller, Get, Injectable, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
/** Stands for your authentication guard (e.g. passport-jwt's AuthGuard('jwt')), which sets request.user. */
@Injectable()
class JwtAuthGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

import { TenancyService, TenantAwareLogger } from 'nestjs-mikro-tenancy';

export async function bootstrap() {
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  // every Logger line written in a tenant's request or job gets "[tenant acme]" (JSON mode: a "tenant" field)
  app.useLogger(new TenantAwareLogger(app.get(TenancyService), { json: process.env.LOG_JSON === '1' }));
  await app.listen(3000);
}

import { RequireTenant, TenantBound } from 'nestjs-mikro-tenancy';

// your JWT strategy's validate(payload) returns { userId: payload.sub, tenantId: payload.tid }
@Controller('notes')
@RequireTenant()
@UseGuards(JwtAuthGuard, TenantBound((request) => request.user?.tenantId))
export class BoundNotesController {
  constructor(private readonly notes: NotesService) {}

  @Get()
  list() {
    return this.notes.list(); // a token issued in tenant A never reads tenant B: 403 before this runs
  }
}
