import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { TenancyHealthIndicator } from '../../../src/health/index.js';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tenancy: TenancyHealthIndicator,
  ) {}

  /** One indicator per context (hub, analytics) and one for the tenants; 503 when any is down. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.tenancy.pingContext('default', { key: 'hub' }), () => this.tenancy.pingContext('analytics'), () => this.tenancy.tenants()]);
  }
}
