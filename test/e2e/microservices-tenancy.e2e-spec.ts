/**
 * Tenant messages over @nestjs/microservices' TCP transport (issue 16), between two apps over a real socket: an HTTP
 * app sends from its request's tenant with TenantClientProxy, a microservice app handles each message in the tenant
 * it carries (rows checked with SQL). Unknown, suspended and invalid tenants answer the caller with the HTTP-like
 * error (404, 403, 400) as an RPC error; a message without a tenant never reaches the handler.
 */
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxy, ClientsModule, Transport } from '@nestjs/microservices';
import { Module } from '@nestjs/common';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { firstValueFrom } from 'rxjs';
import { ContextMigrations, MikroTenancyModule, TenancyService, TenantLifecycle } from '../../src/index.js';
import { NoTenantForMessageError, TenantClientProxy, getTenantClientToken, toTenantMessage } from '../../src/integrations/microservices/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { NOTES_CLIENT, NoteMessagesController, SendNotesController } from '../fixtures/jobs/notes-messages.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases, sql } from '../support/test-databases.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

describe('microservices (TCP): tenant messages', () => {
  const databases = new TestDatabases();
  let hubDb: string;
  let receiver: INestMicroservice;
  let sender: RunningApp;
  let tenantClient: TenantClientProxy;
  let raw: ClientProxy;

  const notesIn = async (id: string) => (await sql<{ marker: string; title: string }>(hubDb, `select marker, title from "tenant_${id}".note order by id`)).map((r) => [r.marker, r.title]);
  /** What the caller's Observable errors with: the RPC error object. */
  const rpcError = (promise: Promise<unknown>) => promise.then(() => { throw new Error('expected an RPC error'); }, (error: unknown) => error);

  beforeAll(async () => {
    hubDb = await databases.create('mshub');
    const port = await freePort();
    @Module({
      imports: [MikroTenancyModule.forRoot(lifecycleOptions({ isolation: 'schema', hubDb })), MikroTenancyModule.forFeature([Note], 'tenant')],
      controllers: [NoteMessagesController],
      providers: [NotesService],
    })
    class ReceiverModule {}
    receiver = await NestFactory.createMicroservice(ReceiverModule, { transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: ['error'] });
    await receiver.listen();
    sender = await startApp({
      imports: [
        MikroTenancyModule.forRoot(lifecycleOptions({ isolation: 'schema', hubDb })),
        ClientsModule.register([{ name: NOTES_CLIENT, transport: Transport.TCP, options: { host: '127.0.0.1', port } }]),
      ],
      controllers: [SendNotesController],
      providers: [TenantClientProxy.provider(NOTES_CLIENT)],
    });
    tenantClient = sender.app.get(getTenantClientToken(NOTES_CLIENT));
    raw = tenantClient.client;
    await sender.app.get(ContextMigrations).up('hub');
    const lifecycle = sender.app.get(TenantLifecycle);
    for (const id of ['ma', 'mb', 'msus']) await lifecycle.create(id);
    await sql(hubDb, `update tenant set suspended = true where id = 'msus'`);
  }, 120_000);

  afterAll(async () => {
    await sender?.close();
    await receiver?.close();
    await databases.dropAll();
  });

  it("a message sent from tenant A's request is handled in A, B's in B (rows checked by SQL)", async () => {
    const a = await sender.request('/messages/note', { method: 'POST', headers: { 'x-tenant-id': 'ma' }, json: { title: 'from a' } });
    const b = await sender.request('/messages/note', { method: 'POST', headers: { 'x-tenant-id': 'mb' }, json: { title: 'from b' } });
    expect([a.status, a.body]).toEqual([201, { tenant: 'ma', title: 'from a', notes: 1 }]);
    expect([b.status, b.body]).toEqual([201, { tenant: 'mb', title: 'from b', notes: 1 }]);
    expect(await notesIn('ma')).toEqual([['ma', 'from a']]);
    expect(await notesIn('mb')).toEqual([['mb', 'from b']]);
  });

  it('an event sent from a tenant is handled in that tenant', async () => {
    const sent = await sender.request('/messages/event', { method: 'POST', headers: { 'x-tenant-id': 'mb' }, json: { title: 'event for b' } });
    expect(sent.status).toBe(201);
    const deadline = Date.now() + 10_000; // events have no reply: wait for the row (the deadline only stops a hang)
    while ((await notesIn('mb')).length < 2 && Date.now() < deadline) await sleep(20);
    expect(await notesIn('mb')).toEqual([['mb', 'from b'], ['mb', 'event for b']]);
    expect(await notesIn('ma')).toEqual([['ma', 'from a']]);
  });

  it('a tenant the receiver does not know, a suspended one and an invalid one answer 404, 403 and 400 as RPC errors', async () => {
    expect(await rpcError(firstValueFrom(raw.send('notes.add', toTenantMessage('nobody', { title: 'x' }))))).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: "Unknown tenant 'nobody': no such tenant is registered in the tenant store.",
    });
    expect(await rpcError(firstValueFrom(raw.send('notes.add', toTenantMessage('msus', { title: 'x' }))))).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: "Tenant 'msus' is suspended.",
    });
    const invalid = (await rpcError(firstValueFrom(raw.send('notes.add', toTenantMessage('MA"; drop', { title: 'x' }))))) as { statusCode: number; message: string };
    expect(invalid.statusCode).toBe(400);
    expect(invalid.message).toMatch(/^Invalid tenant id: it has characters that are not allowed/);
    expect(invalid.message).not.toContain('drop');
    expect(await notesIn('msus')).toEqual([]);
  });

  it('fails closed without a tenant: a bare payload never reaches the handler, and the client refuses to send outside a tenant', async () => {
    expect(await rpcError(firstValueFrom(raw.send('notes.add', { title: 'no tenant' })))).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringContaining('The handler of pattern "notes.add" needs a tenant and the message carries none'),
    });
    await expect(firstValueFrom(tenantClient.send('notes.add', { title: 'central' }))).rejects.toThrow(NoTenantForMessageError);
    // inside a tenant of the sender, the same client sends for it
    const inTenant = await sender.app.get(TenancyService).run('ma', () => firstValueFrom(tenantClient.send('notes.add', { title: 'from run' })));
    expect(inTenant).toEqual({ tenant: 'ma', title: 'from run', notes: 2 });
    for (const id of ['ma', 'mb']) expect((await notesIn(id)).filter(([, title]) => ['no tenant', 'central'].includes(title as string))).toEqual([]);
  });
});
