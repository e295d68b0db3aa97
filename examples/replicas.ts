import { common } from './common.js';
import { Note, Tenant } from './tenancy.entities.js';

// docs/replicas.md: the module
import { defineConfig } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { MikroTenancyModule, TenantStores } from 'nestjs-mikro-tenancy';

@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: {
        default: defineConfig({
          ...common,
          host: 'primary.db',
          dbName: 'hub',
          entities: [Tenant],
          // MikroORM's own option; each replica takes the primary's settings for what it leaves out (here: dbName)
          replicas: [{ name: 'hub-replica-1', host: 'replica1.db' }, { name: 'hub-replica-2', host: 'replica2.db' }],
        }),
      },
      tenancy: {
        isolation: 'database',
        // every tenant's replica connection uses that tenant's database on replica1.db
        config: defineConfig({ ...common, host: 'primary.db', entities: [Note], replicas: [{ name: 'replica-1', host: 'replica1.db' }] }),
        store: TenantStores.table(Tenant),
        // or per tenant: database: (tenant) => ({ dbName: `tenant_${tenant.id}`, replicas: [{ host: replicaHostOf(tenant) }] }),
      },
      replicaLag: { maxMs: 5_000, checkEveryMs: 1_000 }, // the defaults
    }),
  ],
})
export class AppModule {}

// docs/replicas.md: reading from the primary on demand
import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { InjectEntityManager, pinToPrimary } from 'nestjs-mikro-tenancy';

@Injectable()
export class NotesService {
  constructor(@InjectEntityManager('tenant') private readonly em: EntityManager) {}

  async add(title: string, marker: string): Promise<number> {
    await this.em.persist(this.em.create(Note, { title, marker })).flush(); // the primary
    return this.em.count(Note, { marker }); // the primary too: this request has written
  }

  afterWebhook(id: number): Promise<Note | null> {
    pinToPrimary(this.em); // another process has just written it: this request reads from the primary from now on
    return this.em.findOne(Note, id);
  }

  exact(id: number): Promise<Note | null> {
    return this.em.findOne(Note, id, { connectionType: 'write' }); // this one query on the primary, nothing pinned
  }
}
