import { AppModule } from './tenancy.module.js';

import { Controller, Get, Header, Module } from '@nestjs/common';
import { register } from 'prom-client';
import { TenancyMetricsModule } from 'nestjs-mikro-tenancy/prometheus';

@Controller('metrics')
export class MetricsController {
  @Get()
  @Header('content-type', register.contentType)
  metrics() {
    return register.metrics();
  }
}

@Module({
  imports: [
    AppModule, // imports MikroTenancyModule.forRoot(...)
    TenancyMetricsModule.forRoot({ topTenants: 20 }), // prom-client's global registry unless `registry` is given
  ],
  controllers: [MetricsController],
})
export class MeasuredAppModule {}
