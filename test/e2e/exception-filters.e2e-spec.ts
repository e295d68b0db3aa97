/**
 * The module's outage filter catches only DatabaseConnectionFailure: an app's own catch-all filter still gets
 * every other error, and with no filter of the app's, a static context whose server is down answers 503.
 */
import { type ArgumentsHost, Catch, Controller, type ExceptionFilter, Get } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { InjectEntityManager, MikroTenancyModule } from '../../src/index.js';
import { AnalyticsEvent } from '../fixtures/entities/analytics-event.entity.js';
import { primaryConfig } from '../fixtures/configs.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases } from '../support/test-databases.js';

@Controller()
class ProbeController {
  constructor(@InjectEntityManager('broken') private readonly broken: EntityManager) {}

  @Get('boom')
  boom() {
    throw new Error('a bug in the handler');
  }

  @Get('down')
  down() {
    return this.broken.count(AnalyticsEvent);
  }
}

/** An app's own catch-all filter, as many apps have. */
@Catch()
class TeapotFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost) {
    host.switchToHttp().getResponse().status(418).json({ caughtBy: 'app', name: (exception as Error).name });
  }
}

const databases = new TestDatabases();
const apps: RunningApp[] = [];
// a context whose server refuses connections: a closed port on 127.0.0.1
const broken = defineConfig({ metadataProvider: ReflectMetadataProvider, host: '127.0.0.1', port: 9, user: 'nobody', dbName: 'nowhere', entities: [AnalyticsEvent] });

async function boot(withAppFilter: boolean): Promise<RunningApp> {
  const db = await databases.create('filters');
  const app = await startApp({
    imports: [MikroTenancyModule.forRoot({ contexts: { default: primaryConfig(db), broken } })],
    controllers: [ProbeController],
    providers: withAppFilter ? [{ provide: APP_FILTER, useClass: TeapotFilter }] : [],
  });
  apps.push(app);
  return app;
}

afterAll(async () => {
  for (const app of apps) await app.close();
  await databases.dropAll();
});

it('answers an unreachable database with 503 and a message that names no host', async () => {
  const app = await boot(false);
  const down = await app.request('/down');
  expect(down.status).toBe(503);
  expect(down.body.message).toBe(
    'The database is unavailable: the server refused the connection. The request was not completed; retry later. ' +
      'If this persists, check that PostgreSQL is up and that the pool size (pool.max) and driverOptions.connectionTimeoutMillis fit the load.',
  );
  expect((await app.request('/boom')).status).toBe(500); // any other error is left to Nest
});

it("leaves every other error to the app's own catch-all filter (APP_FILTER), and still answers outages", async () => {
  const app = await boot(true);
  expect(await app.request('/boom')).toEqual({ status: 418, body: { caughtBy: 'app', name: 'Error' } });
  // the module's filter, more specific, still answers outages
  expect(await app.request('/down')).toMatchObject({ status: 503, body: { error: 'Service Unavailable' } });
});
