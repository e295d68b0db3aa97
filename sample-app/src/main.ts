import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { fileURLToPath } from 'node:url';
import { usePostgres } from '../../scripts/embedded-postgres.js';
import { AppModule } from './app.module.js';
import { DEMO_TENANTS, ensureDatabases, prepareSampleData } from './bootstrap-data.js';

/** `npm start`: PostgreSQL (DATABASE_URL, or an embedded one keeping data in sample-app/.data), data, then the API. */
async function main(): Promise<void> {
  const logger = new Logger('SampleApp');
  const dataDir = fileURLToPath(new URL('../.data', import.meta.url));
  const postgres = await usePostgres({ dataDir, log: (line) => logger.log(line) });
  process.env.DATABASE_URL = postgres.url; // what AppModule reads (as the CLIs do)
  await ensureDatabases(postgres.url);

  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  await prepareSampleData(app);
  await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  const [acme, globex] = DEMO_TENANTS.map((t) => t.id);
  logger.log(`Sample API on ${url} (${postgres.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'}). Try:
  curl ${url}/health
  curl -X POST ${url}/projects -H 'x-tenant-id: ${acme}' -H 'content-type: application/json' -d '{"name":"Rocket"}'
  curl ${url}/projects -H 'x-tenant-id: ${acme}'
  curl ${url}/projects -H 'x-tenant-id: ${globex}'
  curl ${url}/analytics/summary
Ctrl-C stops the app${postgres.embedded ? ' and the embedded PostgreSQL' : ''}.`);

  const stop = async (): Promise<void> => {
    await app.close();
    await postgres.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void main().catch((error: unknown) => {
  new Logger('SampleApp').error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
