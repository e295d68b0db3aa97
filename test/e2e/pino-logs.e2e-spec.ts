/**
 * nestjs-pino (issue 16): with tenantLogMixin as pino's mixin, every pino line written inside a tenant's unit of work
 * carries the tenant, whoever writes it: the app's Nest Logger lines through nestjs-pino's Logger, PinoLogger, the SQL
 * the tenant ORM logs, pino-http's request-completed line, a job run with TenancyService.run. Real pino output, parsed.
 */
import { EntityManager } from '@mikro-orm/postgresql';
import { Controller, Get, type INestApplication, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as PinoNestLogger, LoggerModule, PinoLogger } from 'nestjs-pino';
import { Writable } from 'node:stream';
import { ContextMigrations, InjectEntityManager, MikroTenancyModule, TenancyService, TenantLifecycle, tenantLogMixin } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { TestDatabases } from '../support/test-databases.js';

type Line = Record<string, unknown> & { msg?: string };
const lines: Line[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Line);
    done();
  },
});

@Controller()
class PinoNotesController {
  readonly #logger = new Logger('PinoNotes');

  constructor(
    @InjectEntityManager('tenant') private readonly em: EntityManager,
    private readonly pino: PinoLogger,
  ) {}

  @Get('logged-notes')
  async list() {
    this.#logger.log('listing notes');
    this.pino.info('straight to pino');
    return this.em.count(Note);
  }

  @Get('central')
  central() {
    this.#logger.log('central work');
    return { ok: true };
  }
}

const databases = new TestDatabases();
let app: INestApplication;
let url: string;

beforeAll(async () => {
  const hubDb = await databases.create('pinohub');
  const options = lifecycleOptions({ isolation: 'schema', hubDb, changes: false });
  const tenancy = { ...options.tenancy!, config: { ...options.tenancy!.config, debug: ['query' as const] } };
  @Module({
    imports: [
      MikroTenancyModule.forRoot({ ...options, tenancy }),
      MikroTenancyModule.forFeature([Note], 'tenant'),
      LoggerModule.forRootAsync({
        inject: [TenancyService],
        useFactory: (tenancy: TenancyService) => ({ pinoHttp: [{ mixin: tenantLogMixin(tenancy), level: 'debug' }, sink] }),
      }),
    ],
    controllers: [PinoNotesController],
  })
  class PinoAppModule {}
  app = await NestFactory.create(PinoAppModule, { bufferLogs: true });
  app.useLogger(app.get(PinoNestLogger));
  await app.listen(0, '127.0.0.1');
  url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  await app.get(ContextMigrations).up('hub');
  for (const id of ['pn1', 'pn2']) await app.get(TenantLifecycle).create(id);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await databases.dropAll();
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const response = await fetch(url + path, { headers });
  await response.arrayBuffer();
  return response.status;
};
/** The request-completed line may be written a tick after the client read the body. */
async function settle(): Promise<void> {
  for (let i = 0; i < 100 && !lines.some((line) => line.msg === 'request completed'); i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('tenantLogMixin with nestjs-pino', () => {
  it("puts the tenant on the app's lines, PinoLogger's, the tenant SQL and the request line; none on central work", async () => {
    lines.length = 0;
    expect(await get('/logged-notes', { 'x-tenant-id': 'pn2' })).toBe(200);
    await settle();
    const byMessage = (text: string) => lines.filter((line) => typeof line.msg === 'string' && line.msg.includes(text));
    expect(byMessage('listing notes')).toEqual([expect.objectContaining({ context: 'PinoNotes', tenant: 'pn2' })]);
    expect(byMessage('straight to pino')).toEqual([expect.objectContaining({ tenant: 'pn2' })]);
    const sql = byMessage('select count(*)');
    expect(sql).toEqual([expect.objectContaining({ context: 'MikroORM:tenant', tenant: 'pn2' })]);
    expect(sql[0]?.msg).toContain('"tenant_pn2"."note"');
    expect(byMessage('request completed')).toEqual([expect.objectContaining({ tenant: 'pn2' })]);
    lines.length = 0;
    expect(await get('/central')).toBe(200);
    await settle();
    expect(byMessage('central work')).toEqual([expect.not.objectContaining({ tenant: expect.anything() })]);
    expect(lines.filter((line) => 'tenant' in line)).toEqual([]);
  });

  it('puts it on the lines of a job (TenancyService.run), and each tenant its own', async () => {
    lines.length = 0;
    const logger = new Logger('Jobs');
    const tenancy = app.get(TenancyService);
    await Promise.all(['pn1', 'pn2'].map((id) => tenancy.run(id, async () => logger.log(`nightly job for ${id}`))));
    logger.log('outside any tenant');
    // the two jobs run concurrently: their lines come in either order
    const jobLines = lines.filter((line) => line.context === 'Jobs').map((line) => [line.msg, line.tenant]);
    expect([...jobLines.slice(0, 2).sort(), ...jobLines.slice(2)]).toEqual([
      ['nightly job for pn1', 'pn1'],
      ['nightly job for pn2', 'pn2'],
      ['outside any tenant', undefined],
    ]);
  });
});
