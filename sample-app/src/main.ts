import 'reflect-metadata';
import { Logger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { fileURLToPath } from 'node:url';
import { usePostgres } from '../../scripts/embedded-postgres.js';
import { AppModule } from './app.module.js';
import { DEMO_TENANTS, ensureDatabases, prepareSampleData } from './bootstrap-data.js';
import { tenantIsolation } from './config.js';

/**
 * `npm start`: PostgreSQL (DATABASE_URL, or an embedded one keeping its data in sample-app/.data or
 * SAMPLE_DATA_DIR), migrations and demo tenants, then the API on HOST:PORT (default 127.0.0.1:3000).
 */
async function main(): Promise<void> {
  const logger = new Logger('SampleApp');
  const dataDir = process.env.SAMPLE_DATA_DIR ?? fileURLToPath(new URL('../.data', import.meta.url));
  const postgres = await usePostgres({ dataDir, log: (line) => logger.log(line) });
  process.env.DATABASE_URL = postgres.url; // what AppModule reads (as the CLIs do)
  await ensureDatabases(postgres.url);

  const app = await NestFactory.create(AppModule);
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  // no app.enableShutdownHooks(): Nest's hook re-raises the signal after closing the app, which would kill the
  // process before the embedded PostgreSQL is stopped; the handlers below close both, in order
  await prepareSampleData(app);
  await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  const [acme, globex] = DEMO_TENANTS.map((t) => t.id);
  const json = `-H 'content-type: application/json'`;
  logger.log(`Sample API listening on ${url} (${postgres.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'}, ${tenantIsolation()} isolation). Try:
  curl ${url}/health
  curl -X POST ${url}/signup ${json} -d '{"tenantId":"initech","name":"Initech","ownerEmail":"bill@initech.test"}'
  curl -X POST ${url}/projects -H 'x-tenant-id: ${acme}' ${json} -d '{"name":"Rocket"}'
  curl ${url}/projects -H 'x-tenant-id: ${acme}'
  curl ${url}/projects -H 'x-tenant-id: ${globex}'
  curl -X POST ${url}/projects/1/tasks -H 'x-tenant-id: ${acme}' ${json} -d '{"title":"Launch"}'   (project 1 is the seeded "Getting started"; for Rocket use the id POST /projects answered)
  curl ${url.replace('//127.0.0.1', `//${acme}.localhost`).replace('//localhost', `//${acme}.localhost`)}/projects   (subdomain)
  curl ${url}/members -H 'x-tenant-id: ${acme}'             (the tenant's members, read from the hub database)
  curl ${url}/analytics/summary -H 'x-tenant-id: ${acme}'   (the tenant's events, read from the analytics database)
The CLI against this app (in another terminal, while it runs):
  DATABASE_URL='${postgres.url}' npm run mikro-tenancy -- tenant list
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
