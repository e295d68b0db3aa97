import { AppModule } from './tenancy.module.js';
import { NotesService } from './notes.js';

import { type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ContextMigrations, TenancyService, TenantLifecycle } from 'nestjs-mikro-tenancy';

describe('notes', () => {
  let app: INestApplication;
  let url: string;
  const [a, b] = [`a${process.pid}`, `b${process.pid}`]; // unique per Jest worker

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile(); // pointed at a test database
    app = await moduleRef.createNestApplication().listen(0, '127.0.0.1');
    url = await app.getUrl();
    await app.get(ContextMigrations).up('default');       // the hub's tenant table
    for (const id of [a, b]) await app.get(TenantLifecycle).create(id); // schema + tenant migrations, registered
  });

  afterAll(async () => {
    for (const id of [a, b]) await app.get(TenantLifecycle).drop(id, { confirm: id });
    await app.close(); // closes every ORM, tenant ORMs included
  });

  it('keeps notes inside their tenant', async () => {
    const headers = { 'x-tenant-id': a, 'content-type': 'application/json' };
    const created = await fetch(`${url}/notes`, { method: 'POST', headers, body: JSON.stringify({ title: 'for a' }) });
    expect(created.status).toBe(201);

    const seenByB = await fetch(`${url}/notes`, { headers: { 'x-tenant-id': b } });
    expect((await seenByB.json()).notes).toEqual([]);
  });

  it('runs a service as a tenant, without HTTP', async () => {
    const notes = await app.get(TenancyService).run(a, () => app.get(NotesService).list());
    expect(notes.map((note) => note.title)).toEqual(['for a']);
  });
});
