/**
 * excludeRoutes: routes the tenancy middleware leaves alone (e.g. a GraphQL endpoint whose interceptor enters the
 * tenant per operation). There a tenant header is not looked up at all; everywhere else it is.
 */
import { Controller, Get } from '@nestjs/common';
import { MikroTenancyModule, TenancyService } from '../../src/index.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { lifecycleOptions } from '../fixtures/lifecycle-app.js';
import { NotesController, NotesService } from '../fixtures/tenant-app.js';
import { type RunningApp, startApp } from '../support/http-app.js';
import { TestDatabases } from '../support/test-databases.js';

@Controller('graphql')
class LeftAloneController {
  constructor(private readonly tenancy: TenancyService) {}

  @Get()
  probe() {
    return { tenant: this.tenancy.currentOrUndefined()?.id ?? null };
  }
}

const databases = new TestDatabases();
let app: RunningApp;

beforeAll(async () => {
  const hubDb = await databases.create('exhub');
  app = await startApp({
    imports: [MikroTenancyModule.forRoot({ ...lifecycleOptions({ isolation: 'schema', hubDb }), excludeRoutes: ['graphql'] }), MikroTenancyModule.forFeature([Note], 'tenant')],
    controllers: [NotesController, LeftAloneController],
    providers: [NotesService],
  });
});

afterAll(async () => {
  await app?.close();
  await databases.dropAll();
});

describe('excludeRoutes', () => {
  it('leaves the excluded route alone and keeps resolving the tenant everywhere else', async () => {
    // the hub is not even migrated: a lookup would fail; on the excluded route none happens
    expect(await app.request('/graphql', { headers: { 'x-tenant-id': 'nobody' } })).toEqual({ status: 200, body: { tenant: null } });
    expect((await app.request('/notes', { headers: { 'x-tenant-id': 'NOT VALID' } })).status).toBe(400);
  });
});
