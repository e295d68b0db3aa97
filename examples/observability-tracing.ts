import { AppModule } from './tenancy.module.js';

import { Module } from '@nestjs/common';
import { TenancyTracingModule } from 'nestjs-mikro-tenancy/opentelemetry';

@Module({
  imports: [
    AppModule, // imports MikroTenancyModule.forRoot(...)
    TenancyTracingModule.forRoot(), // tenant.id on spans, lifecycle spans; needs @opentelemetry/api
  ],
})
export class TracedAppModule {}
