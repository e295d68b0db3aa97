/**
 * The lifecycle app (notes of the current tenant) as its own process, for the graceful shutdown test. Configured
 * from SHUTDOWN_HUB_DB, SHUTDOWN_ISOLATION, SHUTDOWN_DATABASE_PREFIX, SHUTDOWN_PLATFORM and TEST_DATABASE_URL.
 * On SIGTERM it calls `app.close()` and nothing else: the process must then end by itself (no process.exit), so a
 * timer, socket or pool left open by the library would keep it alive and fail the test.
 * Prints `LISTENING <url>`, `ARRIVED <n>` as each request reaches the app, `SIGTERM`, `CLOSED <ms>` on stdout.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { TenantIsolation } from '../../../src/index.js';
import { lifecycleModule } from '../../fixtures/lifecycle-app.js';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const module = lifecycleModule({
  hubDb: requiredEnv('SHUTDOWN_HUB_DB'),
  isolation: requiredEnv('SHUTDOWN_ISOLATION') as TenantIsolation,
  databasePrefix: process.env.SHUTDOWN_DATABASE_PREFIX,
});
const adapter = process.env.SHUTDOWN_PLATFORM === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
const app = await NestFactory.create(module, adapter, { logger: ['error', 'warn'], abortOnError: false });
// tells the test which requests the app has received (so it can stop the app while they are in flight)
let arrived = 0;
app.use((_request: unknown, _response: unknown, next: () => void) => {
  process.stdout.write(`ARRIVED ${++arrived}\n`);
  next();
});
await app.listen(0, '127.0.0.1');

process.once('SIGTERM', () => {
  const started = performance.now();
  process.stdout.write('SIGTERM\n');
  app.close().then(
    () => process.stdout.write(`CLOSED ${Math.round(performance.now() - started)}\n`),
    (error: unknown) => {
      process.stderr.write(`close failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = 1;
    },
  );
});
process.stdout.write(`LISTENING ${(await app.getUrl()).replace('[::1]', '127.0.0.1')}\n`);
