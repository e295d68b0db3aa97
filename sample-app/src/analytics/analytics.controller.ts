import { Controller, Get } from '@nestjs/common';
import { CurrentTenant, RequireTenant, type TenantRecord } from '../../../src/index.js';
import { AnalyticsService } from './analytics.service.js';

@Controller('analytics')
export class AnalyticsController {
  constructor(private readonly analytics: AnalyticsService) {}

  /** What happened in the current tenant, read from the analytics database. */
  @RequireTenant()
  @Get('summary')
  async summary(@CurrentTenant() tenant: TenantRecord) {
    return { tenant: tenant.id, events: await this.analytics.summary(tenant.id) };
  }
}
