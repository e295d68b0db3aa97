import { AppModule } from './tenancy.module.js';
import { NotesService } from './notes.js';
import { Note } from './tenancy.entities.js';

import { type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ContextMigrations } from 'nestjs-mikro-tenancy';
import { TenancyTesting } from 'nestjs-mikro-tenancy/testing';

describe('notes, a tenant per test', () => {
  let app: INestApplication;
  let url: string;
  let kit: TenancyTesting;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile(); // pointed at a test database
    app = await moduleRef.createNestApplication().listen(0, '127.0.0.1');
    url = await app.getUrl();
    await app.get(ContextMigrations).up('default'); // the hub's tenant table
    kit = await TenancyTesting.create(app); // this worker's template tenant: migrated (and seeded) once
  });

  afterAll(async () => {
    await kit.cleanup(); // drops the tenants this file made; the template stays for the worker's next file
    await app.close();
  });

  it('keeps notes inside their tenant', async () => {
    const [a, b] = [await kit.createTenant(), await kit.createTenant()]; // copies of the template, ~tens of ms each
    const headers = { 'x-tenant-id': a.id, 'content-type': 'application/json' };
    const created = await fetch(`${url}/notes`, { method: 'POST', headers, body: JSON.stringify({ title: 'for a' }) });
    expect(created.status).toBe(201);

    const seenByB = await fetch(`${url}/notes`, { headers: { 'x-tenant-id': b.id } });
    expect((await seenByB.json()).notes).toEqual([]);
  });

  it('runs a service as a tenant, and checks that the write stayed in it', async () => {
    const tenant = await kit.createTenant();
    // fails with TenantIsolationViolation, naming the table, if another tenant of this kit changed
    const changed = await kit.expectIsolated(tenant.id, () => app.get(NotesService).add('only here'));
    expect(changed).toEqual({ note: 1 });
    const notes = await kit.run(tenant.id, ({ em }) => em.find(Note, {}));
    expect(notes.map((note) => note.title)).toEqual(['only here']);
    expect(await kit.rowCounts(tenant.id)).toMatchObject({ note: 1 });
  });
});
