/**
 * One more app instance on a shared hub, as its own process, for the fleet test: the lifecycle app (notes, plus the
 * transactional endpoint) with a long lookup cache, so only a notification can make it see a change quickly.
 * Configured from FLEET_HUB_DB, FLEET_ISOLATION, FLEET_DATABASE_PREFIX, FLEET_CACHE_TTL_MS, FLEET_CHANGES ('off'
 * to not listen) and TEST_DATABASE_URL. Prints `LISTENING <url>` on stdout.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MikroTenancyModule, type TenantIsolation } from '../../../src/index.js';
import { Note } from '../../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../../fixtures/tenant-app.js';
import { TxNotesController } from './tx-notes.controller.js';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const options = lifecycleOptions({
  hubDb: requiredEnv('FLEET_HUB_DB'),
  isolation: requiredEnv('FLEET_ISOLATION') as TenantIsolation,
  databasePrefix: process.env.FLEET_DATABASE_PREFIX,
  cacheTtlMs: Number(requiredEnv('FLEET_CACHE_TTL_MS')),
  ...(process.env.FLEET_CHANGES === 'off' ? { changes: false as const } : {}),
});

@Module({
  imports: [MikroTenancyModule.forRoot(options), MikroTenancyModule.forFeature([Note], 'tenant')],
  controllers: [NotesController, TxNotesController],
  providers: [NotesService],
})
class FleetAppModule {}

const app = await NestFactory.create(FleetAppModule, { logger: ['error', 'warn'], abortOnError: false });
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
process.stdout.write(`LISTENING ${(await app.getUrl()).replace('[::1]', '127.0.0.1')}\n`);
