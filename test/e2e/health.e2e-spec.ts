import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { defineConfig } from '@mikro-orm/postgresql';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { MikroTenancyModule, TenantStores } from '../../src/index.js';
import { TenancyHealthIndicator } from '../../src/health/index.js';
import { AnalyticsEvent } from '../fixtures/entities/analytics-event.entity.js';
import { hubConfig, tenantTemplate } from '../fixtures/configs.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases } from '../support/test-databases.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tenancy: TenancyHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.tenancy.pingContext('default', { key: 'hub' }), () => this.tenancy.pingContext('broken', { timeoutMs: 300 }), () => this.tenancy.tenants()]);
  }

  @Get('ok')
  @HealthCheck()
  ok() {
    return this.health.check([() => this.tenancy.pingContext('default', { key: 'hub' }), () => this.tenancy.tenants()]);
  }
}

const databases = new TestDatabases();
let app: RunningApp;

beforeAll(async () => {
  const hubDb = await databases.create('health');
  // a context whose server does not answer: a closed port on 127.0.0.1
  const broken = defineConfig({ metadataProvider: ReflectMetadataProvider, host: '127.0.0.1', port: 9, user: 'nobody', dbName: 'nowhere', entities: [AnalyticsEvent] });
  app = await startApp({
    imports: [
      MikroTenancyModule.forRoot({
        contexts: { default: hubConfig(hubDb), broken },
        tenancy: { isolation: 'database', config: tenantTemplate(hubDb), store: TenantStores.static([{ id: 'acme' }]), pool: { maxOpenTenants: 7 } },
      }),
      TerminusModule,
    ],
    controllers: [HealthController],
    providers: [TenancyHealthIndicator],
  });
});
afterAll(async () => {
  await app?.close();
  await databases.dropAll();
});

describe('TenancyHealthIndicator (nestjs-mikro-tenancy/health)', () => {
  it('reports a context up right after boot, before any request has used it', async () => {
    const response = await app.request('/health/ok');
    expect(response.status).toBe(200);
    expect(response.body.info.hub).toMatchObject({ status: 'up', responseTime: expect.any(Number) });
    expect(response.body.info.tenant).toEqual({ status: 'up', isolation: 'database', open: 0, closing: 0, opened: 0, evicted: 0, maxOpenTenants: 7 });
  });

  it('reports an unreachable context down (503) and the others up', async () => {
    const response = await app.request('/health');
    expect(response.status).toBe(503);
    expect(response.body.error.broken).toMatchObject({ status: 'down', message: expect.any(String) });
    expect(response.body.info.hub.status).toBe('up');
  });
});
