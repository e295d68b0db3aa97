/**
 * Traces (issue 16): with TenancyTracingModule imported, the span active when tenant work starts gets `tenant.id`
 * (an HTTP request's, the caller's of TenancyService.run and open), and lifecycle operations get spans of their own
 * with the tenant and the outcome. Spans are read from the OpenTelemetry SDK's in-memory exporter; a stand-in for the
 * HTTP instrumentation opens each request's span before Nest's middleware runs, as @opentelemetry/instrumentation-http does.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ServerResponse } from 'node:http';
import { ContextMigrations, MikroTenancyModule, TenancyService, TenantLifecycle } from '../../src/index.js';
import { TenancyTracingModule } from '../../src/integrations/opentelemetry/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { TestDatabases } from '../support/test-databases.js';

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager().enable();
const tracer = trace.getTracer('test');
const databases = new TestDatabases();
const apps: INestApplication[] = [];

async function boot(hubDb: string, traced: boolean): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [
      MikroTenancyModule.forRoot(lifecycleOptions({ isolation: 'schema', hubDb, changes: false })),
      MikroTenancyModule.forFeature([Note], 'tenant'),
      ...(traced ? [TenancyTracingModule.forRoot()] : []),
    ],
    controllers: [NotesController],
    providers: [NotesService],
  })
  class TracedAppModule {}
  const app = await NestFactory.create(TracedAppModule, { logger: ['error'] });
  // what the HTTP instrumentation does: the request runs inside its server span
  app.use((request: { method: string; url: string }, response: ServerResponse, next: () => void) =>
    tracer.startActiveSpan(`${request.method} ${request.url}`, (span) => {
      response.once('finish', () => span.end());
      next();
    }),
  );
  await app.listen(0, '127.0.0.1');
  apps.push(app);
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

let app: INestApplication;
let url: string;
let plainUrl: string;

beforeAll(async () => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(contextManager);
  const hubDb = await databases.create('othub');
  ({ app, url } = await boot(hubDb, true));
  await app.get(ContextMigrations).up('hub');
  for (const id of ['ot1', 'ot2']) await app.get(TenantLifecycle).create(id);
  ({ url: plainUrl } = await boot(hubDb, false));
}, 120_000);

afterAll(async () => {
  for (const each of apps) await each.close();
  await databases.dropAll();
  trace.disable();
  context.disable();
});

beforeEach(() => exporter.reset());

const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.name === name);
const requestSpan = async (base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; span: ReadableSpan }> => {
  const response = await fetch(base + path, { headers });
  await response.arrayBuffer();
  // the span ends on 'finish', which may come a tick after the client read the body
  for (let i = 0; i < 100 && spans(`GET ${path}`).length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
  const [span] = spans(`GET ${path}`);
  if (!span) throw new Error(`no span for GET ${path}`);
  return { status: response.status, span };
};

describe('tenant.id on the span of tenant work', () => {
  it("sets the request's tenant on its server span, and nothing on requests without a valid, known tenant", async () => {
    const served = await requestSpan(url, '/notes', { 'x-tenant-id': 'ot2' });
    expect(served.status).toBe(200);
    expect(served.span.attributes['tenant.id']).toBe('ot2');
    const central = await requestSpan(url, '/health');
    expect(central.status).toBe(200);
    expect(central.span.attributes).not.toHaveProperty('tenant.id');
    const unknown = await requestSpan(url, '/whoami', { 'x-tenant-id': 'nobody' });
    expect(unknown.status).toBe(404);
    expect(unknown.span.attributes).not.toHaveProperty('tenant.id');
    const invalid = await requestSpan(url, '/whoami', { 'x-tenant-id': 'Robert"); drop' });
    expect(invalid.status).toBe(400);
    expect(invalid.span.attributes).not.toHaveProperty('tenant.id');
  });

  it('sets it on the active span of TenancyService.run (jobs, scripts) and open, and leaves other spans alone', async () => {
    const tenancy = app.get(TenancyService);
    await tracer.startActiveSpan('nightly job', async (span) => {
      await tenancy.run('ot1', ({ em }) => em.count(Note));
      span.end();
    });
    await tracer.startActiveSpan('report', async (span) => {
      await using handle = await tenancy.open('ot2');
      await handle.em.count(Note);
      span.end();
    });
    await tracer.startActiveSpan('central', async (span) => {
      await tenancy.run(async () => undefined);
      span.end();
    });
    expect(spans('nightly job')[0]?.attributes['tenant.id']).toBe('ot1');
    expect(spans('report')[0]?.attributes['tenant.id']).toBe('ot2');
    expect(spans('central')[0]?.attributes).not.toHaveProperty('tenant.id');
  });

  it('does nothing in an app that does not import TenancyTracingModule', async () => {
    const served = await requestSpan(plainUrl, '/notes', { 'x-tenant-id': 'ot1' });
    expect(served.status).toBe(200);
    expect(served.span.attributes).not.toHaveProperty('tenant.id');
    expect(exporter.getFinishedSpans().filter((span) => span.name.startsWith('tenancy.'))).toEqual([]);
  });
});

describe('lifecycle spans', () => {
  it('gives create a span, with a migrate span per tenant inside it', async () => {
    await app.get(TenantLifecycle).create('ot3');
    const [create] = spans('tenancy.create');
    const [migrate] = spans('tenancy.migrate');
    expect(create?.attributes).toEqual({ 'tenancy.operation': 'create', 'tenant.id': 'ot3', 'tenancy.outcome': 'ok' });
    expect(migrate?.attributes).toEqual({ 'tenancy.operation': 'migrate', 'tenant.id': 'ot3', 'tenancy.migration.direction': 'up', 'tenancy.outcome': 'ok' });
    expect(migrate?.parentSpanContext?.spanId).toBe(create?.spanContext().spanId);
    expect(create?.status.code).not.toBe(2);
  });

  it('gives migrate one span per tenant, suspend and resume theirs, drop its own', async () => {
    const lifecycle = app.get(TenantLifecycle);
    await lifecycle.migrate({ tenants: ['ot1', 'ot2'] });
    expect(spans('tenancy.migrate').map((span) => span.attributes['tenant.id']).sort()).toEqual(['ot1', 'ot2']);
    await lifecycle.suspend('ot3');
    await lifecycle.resume('ot3');
    await lifecycle.drop('ot3', { confirm: 'ot3' });
    expect(spans('tenancy.suspend').map((span) => span.attributes)).toEqual([{ 'tenancy.operation': 'suspend', 'tenant.id': 'ot3', 'tenancy.outcome': 'ok' }]);
    expect(spans('tenancy.resume').map((span) => span.attributes['tenant.id'])).toEqual(['ot3']);
    expect(spans('tenancy.drop').map((span) => span.attributes)).toEqual([{ 'tenancy.operation': 'drop', 'tenant.id': 'ot3', 'tenancy.outcome': 'ok' }]);
  });

  it('records a failed operation: error status, exception event, outcome; an invalid id is never an attribute', async () => {
    const lifecycle = app.get(TenantLifecycle);
    await expect(lifecycle.drop('ot1')).rejects.toThrow(/confirm/);
    const [drop] = spans('tenancy.drop');
    expect(drop?.attributes).toEqual({ 'tenancy.operation': 'drop', 'tenant.id': 'ot1', 'tenancy.outcome': 'error', 'error.type': 'TenantDropNotConfirmedError' });
    expect(drop?.status).toEqual({ code: 2, message: expect.stringContaining('ot1') });
    expect(drop?.events.map((event) => event.name)).toEqual(['exception']);
    await expect(lifecycle.suspend('nobody')).rejects.toThrow();
    expect(spans('tenancy.suspend')[0]?.attributes['tenancy.outcome']).toBe('error');
    await expect(lifecycle.create('Bad Id!')).rejects.toThrow();
    const [create] = spans('tenancy.create');
    expect(create?.attributes).toEqual(expect.objectContaining({ 'tenancy.operation': 'create', 'tenancy.outcome': 'error' }));
    expect(create?.attributes).not.toHaveProperty('tenant.id');
    // the tenant kept serving: the failed drop changed nothing
    expect((await requestSpan(url, '/notes', { 'x-tenant-id': 'ot1' })).status).toBe(200);
  });
});
