/** Boots a Nest app on 127.0.0.1 with express or fastify, through the real HTTP pipeline. */
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Module } from '@nestjs/common';
import { request as httpRequest } from 'node:http';

export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

export interface RunningApp {
  app: INestApplication;
  url: string;
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** A GET with a chosen Host header (fetch forbids setting it), for subdomain resolution. */
export function getWithHost(url: string, path: string, host: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url + path, { headers: { host } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    request.on('error', reject);
    request.end();
  });
}

export async function startApp(metadata: ModuleMetadata, platform: Platform = 'express'): Promise<RunningApp> {
  @Module(metadata)
  class TestAppModule {}
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(TestAppModule, adapter, { logger: ['error', 'warn'], abortOnError: false });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    url,
    async request(path, init = {}) {
      const { json, headers, ...rest } = init;
      const response = await fetch(url + path, {
        ...rest,
        headers: { ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...(headers as Record<string, string>) },
        body: json !== undefined ? JSON.stringify(json) : (rest.body ?? undefined),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text; // not JSON: keep the raw text for the assertion
      }
      return { status: response.status, body };
    },
    close: () => app.close(),
  };
}
