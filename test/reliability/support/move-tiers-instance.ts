/**
 * A second app instance of the tier-move test, as its own process: the move app with the database tier
 * (move-tiers-options.ts) over HTTP, listening for the hub's tenant changes. Configured from MOVE_TIERS_SETUP and
 * TEST_DATABASE_URL; prints `LISTENING <url>` on stdout.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { moveTiersMetadata, moveTiersSetupFromEnv } from './move-tiers-options.js';

@Module(moveTiersMetadata(moveTiersSetupFromEnv()))
class MoveTiersInstanceModule {}

const app = await NestFactory.create(MoveTiersInstanceModule, { logger: ['error', 'warn'], abortOnError: false });
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
process.stdout.write(`LISTENING ${(await app.getUrl()).replace('[::1]', '127.0.0.1')}\n`);
