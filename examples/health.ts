import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { TenancyHealthIndicator } from 'nestjs-mikro-tenancy/health';

@Controller('health')
class HealthController {
  constructor(private readonly health: HealthCheckService, private readonly tenancy: TenancyHealthIndicator) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.tenancy.pingContext('default', { key: 'hub' }),
      () => this.tenancy.pingContext('analytics', { timeoutMs: 500 }),
      () => this.tenancy.tenants(),
    ]);
  }
}

@Module({ imports: [TerminusModule], controllers: [HealthController], providers: [TenancyHealthIndicator] })
export class HealthModule {}
