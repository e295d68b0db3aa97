/** Helpers of the isolation soak: a Nest app whose logger counts server-side errors, and a randomized HTTP client. */
import { ConsoleLogger, type INestApplication, Module, type ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Agent, request as httpRequest } from 'node:http';
import type { Platform } from '../../support/http-app.js';

/** Nest's console logger (errors and warnings only) that also keeps what it logged, for the soak's figures. */
export class CountingLogger extends ConsoleLogger {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  constructor() {
    super();
    this.setLogLevels(['error', 'warn']);
  }

  override error(message: unknown, ...rest: unknown[]): void {
    this.errors.push(String(message));
    if (this.errors.length <= 3) super.error(message, ...rest);
  }

  override warn(message: unknown, ...rest: unknown[]): void {
    this.warnings.push(String(message));
    if (this.warnings.length <= 3) super.warn(message, ...rest);
  }
}

export interface SoakApp {
  app: INestApplication;
  url: string;
  logger: CountingLogger;
  close(): Promise<void>;
}

export async function startSoakApp(metadata: ModuleMetadata, platform: Platform): Promise<SoakApp> {
  @Module(metadata)
  class SoakAppModule {}
  const logger = new CountingLogger();
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(SoakAppModule, adapter, { logger, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, logger, close: () => app.close() };
}

/**
 * Keep-alive agent of the soak's client. The soak destroys it before closing the app: a socket opened for a request
 * that was aborted before it was written stays connected without a request, and Node's `server.close()` waits for
 * such a connection until the server's header timeout (about a minute, measured with fetch's own pool).
 */
export const newHttpAgent = (): Agent => new Agent({ keepAlive: true, maxSockets: 64 });

export const randomInt = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1));

export type Outcome = { kind: 'ok'; status: number; body: unknown } | { kind: 'aborted' } | { kind: 'error'; detail: string };

/**
 * One request (node:http, keep-alive `agent`) with an optional client-side abort through an AbortController after
 * `abortAfterMs`: the abort may land before the request is sent, while the server is mid-query, or while the body
 * is being read (then the response does not count as seen).
 */
export function send(url: string, init: { method?: string; headers?: Record<string, string>; json?: unknown; agent: Agent }, abortAfterMs?: number): Promise<Outcome> {
  const controller = new AbortController();
  const timer = abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), abortAfterMs);
  const method = init.method ?? 'GET';
  const body = init.json === undefined ? undefined : JSON.stringify(init.json);
  return new Promise<Outcome>((resolve) => {
    const fail = (error: unknown) => {
      if (controller.signal.aborted) resolve({ kind: 'aborted' });
      else resolve({ kind: 'error', detail: `${method} ${url}: ${error instanceof Error ? error.message : String(error)}` });
    };
    const request = httpRequest(
      url,
      {
        method,
        agent: init.agent,
        signal: controller.signal,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...init.headers },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('error', fail);
        response.on('end', () => {
          if (controller.signal.aborted) return resolve({ kind: 'aborted' });
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // keep the raw text
          }
          resolve({ kind: 'ok', status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    request.on('error', fail);
    request.end(body);
  }).finally(() => clearTimeout(timer));
}
