import { AppModule } from './tenancy.module.js';

import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger, LoggerModule } from 'nestjs-pino';
import { TenancyService, tenantLogMixin } from 'nestjs-mikro-tenancy';

@Module({
  imports: [
    AppModule, // imports MikroTenancyModule.forRoot(...), which makes TenancyService injectable everywhere
    LoggerModule.forRootAsync({
      inject: [TenancyService],
      // every pino line written in a tenant's request, job or CLI run gets "tenant": "acme"
      useFactory: (tenancy: TenancyService) => ({ pinoHttp: { mixin: tenantLogMixin(tenancy) } }),
    }),
  ],
})
export class PinoAppModule {}

export async function bootstrap() {
  const app = await NestFactory.create(PinoAppModule, { bufferLogs: true });
  app.useLogger(app.get(Logger)); // Nest's Logger lines (and the SQL tenant ORMs log) go through pino too
  await app.listen(3000);
}
