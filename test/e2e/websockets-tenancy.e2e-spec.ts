/**
 * WebSocket gateways run in their tenant (issue 16): socket.io over a real socket through the real Nest pipeline.
 * The tenant comes from the handshake (header or query) through the module's resolver chain; each message runs in a
 * fresh scope of that tenant (rows checked by SQL); refusals are socket.io's own error forms, never a crash.
 */
import { io, type Socket } from 'socket.io-client';
import { TenantWsHandshake } from '../../src/integrations/websockets/index.js';
import { ContextMigrations, MikroTenancyModule, TenantLifecycle, TenantResolvers } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesService } from '../fixtures/tenant-app.js';
import { NotesGateway } from '../fixtures/websockets/notes.gateway.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { sql, TestDatabases } from '../support/test-databases.js';

const databases = new TestDatabases();
let hubDb: string;
let app: RunningApp;
const sockets: Socket[] = [];

beforeAll(async () => {
  hubDb = await databases.create('wshub');
  const options = lifecycleOptions({ isolation: 'schema', hubDb });
  const tenancy = { ...options.tenancy!, resolve: [TenantResolvers.header(), TenantResolvers.query()] };
  app = await startApp({
    imports: [MikroTenancyModule.forRoot({ ...options, tenancy }), MikroTenancyModule.forFeature([Note], 'tenant')],
    providers: [NotesService, NotesGateway, TenantWsHandshake],
  });
  await app.app.get(ContextMigrations).up('hub');
  for (const id of ['wsa', 'wsb']) await app.app.get(TenantLifecycle).create(id);
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await app?.close();
  await databases.dropAll();
});

/** A client whose connection attempt has settled: connected, or refused with socket.io's `connect_error`. */
function connect(options: { tenantHeader?: string; tenantQuery?: string }): Promise<{ socket: Socket; refused?: Error & { data?: { status: number; message: string } } }> {
  const socket = io(app.url, {
    transports: ['websocket'],
    reconnection: false,
    extraHeaders: options.tenantHeader === undefined ? {} : { 'x-tenant-id': options.tenantHeader },
    query: options.tenantQuery === undefined ? {} : { tenant: options.tenantQuery },
  });
  sockets.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (refused) => resolve({ socket, refused }));
  });
}

const nextException = (socket: Socket): Promise<{ status: number; message: string }> => new Promise((resolve) => socket.once('exception', resolve));

describe('socket.io gateway with TenantWsInterceptor and TenantWsHandshake', () => {
  it('gives each connection its tenant, from a header or the query', async () => {
    const { socket: a } = await connect({ tenantHeader: 'wsa' });
    const { socket: b } = await connect({ tenantQuery: 'wsb' });
    expect(await a.emitWithAck('whoami')).toEqual({ tenant: 'wsa' });
    expect(await b.emitWithAck('whoami')).toEqual({ tenant: 'wsb' });
  });

  it('keeps interleaved messages of two tenants apart: each handler writes and reads only its tenant (SQL)', async () => {
    const { socket: a } = await connect({ tenantHeader: 'wsa' });
    const { socket: b } = await connect({ tenantHeader: 'wsb' });
    // each handler pauses between its queries, so the other client's messages run in between
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const [socket, tenant] = i % 2 === 0 ? [a, 'wsa'] : [b, 'wsb'];
        return socket.emitWithAck('add-note', { title: `message ${i}`, pause: 15 }).then((note: { marker: string }) => ({ tenant, note }));
      }),
    );
    for (const { tenant, note } of replies) expect(note.marker).toBe(tenant);
    for (const tenant of ['wsa', 'wsb']) {
      const rows = await sql<{ marker: string }>(hubDb, `select marker from "tenant_${tenant}".note`);
      expect(rows.length).toBe(5);
      expect(rows.every((row) => row.marker === tenant)).toBe(true);
    }
    const listed = await Promise.all([a.emitWithAck('notes', { pause: 10 }), b.emitWithAck('notes', { pause: 10 })]);
    expect(listed.map((notes: { marker: string }[]) => [...new Set(notes.map((n) => n.marker))])).toEqual([['wsa'], ['wsb']]);
  });

  it('refuses a connection to an unknown tenant at the handshake, with status 404', async () => {
    const { socket, refused } = await connect({ tenantHeader: 'nosuchtenant' });
    expect(socket.connected).toBe(false);
    expect(refused?.data).toEqual({ status: 404, message: expect.stringContaining("Unknown tenant 'nosuchtenant'") });
  });

  it('refuses an invalid tenant id at the handshake with status 400, without echoing it', async () => {
    const { refused } = await connect({ tenantQuery: 'Bad;Id' });
    expect(refused?.data?.status).toBe(400);
    expect(refused?.message).toMatch(/^Invalid tenant id/);
    expect(JSON.stringify(refused?.data)).not.toContain('Bad;Id');
  });

  it('fails closed without a tenant: the handler gets an exception event (400), and the connection stays usable', async () => {
    const { socket } = await connect({});
    expect(await socket.emitWithAck('whoami')).toEqual({ tenant: null });
    const exception = nextException(socket);
    socket.emit('notes', {});
    expect(await exception).toEqual({ status: 400, message: expect.stringContaining('No tenant is active') });
    expect(socket.connected).toBe(true);
  });

  it('answers a tenant removed after the connection was accepted with an exception event (404) on its next message', async () => {
    await app.app.get(TenantLifecycle).create('wsgone');
    const { socket } = await connect({ tenantHeader: 'wsgone' });
    expect(await socket.emitWithAck('whoami')).toEqual({ tenant: 'wsgone' });
    await app.app.get(TenantLifecycle).drop('wsgone', { confirm: 'wsgone' });
    const exception = nextException(socket);
    socket.emit('whoami');
    expect(await exception).toEqual({ status: 404, message: expect.stringContaining("Unknown tenant 'wsgone'") });
  });
});
