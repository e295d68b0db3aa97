/**
 * The tenant follows the work into logs, and credentials stay in their tenant (issue 16): TenantAwareLogger puts
 * the current tenant on every line written in a tenant's unit of work (the app's own Logger lines and the SQL the
 * tenant ORM logs), and TenantBound refuses credentials issued for another tenant (403), as a JWT claim check would.
 */
import { EntityManager } from '@mikro-orm/postgresql';
import { type CanActivate, Controller, type ExecutionContext, Get, type INestApplication, Injectable, Logger, Module, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ContextMigrations,
  InjectEntityManager,
  MikroTenancyModule,
  TenancyService,
  TenantAwareLogger,
  TenantBound,
  TenantLifecycle,
} from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { TestDatabases } from '../support/test-databases.js';

/** Stands for an authentication guard (passport-jwt, a session): it sets `request.user` from verified credentials. */
@Injectable()
class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: { tenantId?: string } }>();
    const claim = request.headers['x-authenticated-tenant'];
    request.user = claim === undefined ? {} : { tenantId: claim };
    return true;
  }
}

@Controller()
class NotesLogController {
  readonly #logger = new Logger('NotesLog');

  constructor(@InjectEntityManager('tenant') private readonly em: EntityManager) {}

  @Get('logged-notes')
  async list() {
    this.#logger.log('listing notes');
    return this.em.count(Note);
  }

  @Get('central')
  central() {
    this.#logger.log('central work');
    return { ok: true };
  }

  @UseGuards(FakeAuthGuard, TenantBound((request) => request.user?.tenantId))
  @Get('bound-notes')
  bound() {
    return this.em.count(Note);
  }
}

const databases = new TestDatabases();
let app: INestApplication;
let url: string;
const written: string[] = [];
let restoreStdout: () => void;

beforeAll(async () => {
  const hubDb = await databases.create('lghub');
  const options = lifecycleOptions({ isolation: 'schema', hubDb });
  const tenancy = { ...options.tenancy!, config: { ...options.tenancy!.config, debug: ['query' as const] } };
  @Module({
    imports: [MikroTenancyModule.forRoot({ ...options, tenancy }), MikroTenancyModule.forFeature([Note], 'tenant')],
    controllers: [NotesLogController],
  })
  class LogsAppModule {}
  app = await NestFactory.create(LogsAppModule, { bufferLogs: true, abortOnError: false });
  app.useLogger(new TenantAwareLogger(app.get(TenancyService), { colors: false }));
  await app.listen(0, '127.0.0.1');
  url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  await app.get(ContextMigrations).up('hub');
  for (const id of ['lg1', 'lg2']) await app.get(TenantLifecycle).create(id);
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    written.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  restoreStdout = () => void (process.stdout.write = write);
}, 120_000);

afterAll(async () => {
  restoreStdout?.();
  await app?.close();
  await databases.dropAll();
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const response = await fetch(url + path, { headers });
  return { status: response.status, body: (await response.json()) as { message?: string } };
};
const linesWith = (text: string) => written.filter((line) => line.includes(text));

describe('TenantAwareLogger: the tenant on every line of its unit of work', () => {
  it("puts the tenant on the app's own lines and on the SQL its tenant ORM logs, and none on central work", async () => {
    written.length = 0;
    expect((await get('/logged-notes', { 'x-tenant-id': 'lg2' })).status).toBe(200);
    expect((await get('/central')).status).toBe(200);
    expect(linesWith('listing notes')).toEqual([expect.stringContaining('[NotesLog] [tenant lg2] listing notes')]);
    const sql = linesWith('[MikroORM:tenant] [tenant lg2]').filter((line) => line.includes('select count(*)'));
    expect(sql).toEqual([expect.stringContaining('"tenant_lg2"."note"')]);
    expect(linesWith('central work')).toEqual([expect.not.stringContaining('[tenant ')]);
    expect(linesWith('[tenant lg1]')).toEqual([]);
  });

  it('adds a tenant field in JSON mode, in jobs too (TenancyService.run)', async () => {
    const json: string[] = [];
    const logger = new (class extends TenantAwareLogger {
      protected override printAsJson(message: unknown, options: Parameters<TenantAwareLogger['printAsJson']>[1]): void {
        json.push(JSON.stringify(this.getJsonLogObject(message, options)));
      }
    })(app.get(TenancyService), { json: true });
    await app.get(TenancyService).run('lg1', async () => logger.log('nightly job', 'Jobs'));
    logger.log('outside any tenant', 'Jobs');
    expect(json.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ message: 'nightly job', context: 'Jobs', tenant: 'lg1' }),
      expect.not.objectContaining({ tenant: expect.anything() }),
    ]);
  });
});

describe('TenantBound: credentials work only in the tenant they were issued for', () => {
  it('serves credentials of the same tenant', async () => {
    expect(await get('/bound-notes', { 'x-tenant-id': 'lg1', 'x-authenticated-tenant': 'lg1' })).toEqual({ status: 200, body: 0 });
  });

  it("answers 403 for another tenant's credentials, without naming that tenant", async () => {
    const refused = await get('/bound-notes', { 'x-tenant-id': 'lg2', 'x-authenticated-tenant': 'lg1' });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe("These credentials were issued for another tenant than 'lg2': sign in to 'lg2' to use it.");
  });

  it('answers 403 for credentials bound to no tenant, and lets a request without a tenant through', async () => {
    const unbound = await get('/bound-notes', { 'x-tenant-id': 'lg1' });
    expect(unbound.status).toBe(403);
    expect(unbound.body.message).toBe("These credentials are not bound to a tenant, so they cannot be used for tenant 'lg1'.");
    // no tenant: the route's own rules apply (here the tenant EntityManager fails closed: 400)
    expect((await get('/bound-notes', { 'x-authenticated-tenant': 'lg1' })).status).toBe(400);
  });
});
