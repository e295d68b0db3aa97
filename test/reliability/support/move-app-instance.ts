/**
 * A second app instance of the app-level move test, as its own process: the move app (move-app-options.ts) over
 * HTTP, listening for the hub's tenant changes. Configured from MOVE_APP_SETUP and TEST_DATABASE_URL; prints
 * `LISTENING <url>` on stdout.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { moveAppMetadata, moveAppSetupFromEnv } from './move-app-options.js';

@Module(moveAppMetadata(moveAppSetupFromEnv()))
class MoveAppInstanceModule {}

const app = await NestFactory.create(MoveAppInstanceModule, { logger: ['error', 'warn'], abortOnError: false });
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
process.stdout.write(`LISTENING ${(await app.getUrl()).replace('[::1]', '127.0.0.1')}\n`);
