import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import type { Adapter } from '../scenarios.js';
import type { RunningServer } from './protocol.js';

/** Boots a Nest app on express or fastify at 127.0.0.1 on a free port; warnings and errors only (no log cost). */
export async function startNestApp(module: Type<unknown>, adapter: Adapter): Promise<RunningServer> {
  const logger = ['error', 'warn'] as const;
  const app: INestApplication =
    adapter === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), { logger: [...logger] })
      : await NestFactory.create(module, { logger: [...logger] });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as AddressInfo;
  return { port: address.port, stop: () => app.close() };
}
