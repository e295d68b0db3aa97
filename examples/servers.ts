import { common } from './common.js';
import { Note } from './tenancy.entities.js';

// docs/servers.md: the tenant table
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

@Entity({ tableName: 'tenant' })
export class PlacedTenant {
  @PrimaryKey({ type: 'string' })
  id!: string;

  @Property({ type: 'boolean', default: false })
  suspended: boolean & {} = false;

  /** The server it lives on (a name of tenancy.servers); null: the first server. */
  @Property({ type: 'string', nullable: true })
  server?: string;

  /** 'database': a database of its own (tenancy.databaseTier); 'shared': the shared tables (tenancy.sharedTier); null or 'schema': a schema. */
  @Property({ type: 'string', nullable: true })
  tier?: 'shared' | 'schema' | 'database';

  @Property({ type: 'string', nullable: true })
  region?: string;
}

// docs/servers.md: the module
import { defineConfig } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { MikroTenancyModule, TenantStores } from 'nestjs-mikro-tenancy';

@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: { hub: defineConfig({ ...common, host: 'hub.db', dbName: 'hub', entities: [PlacedTenant] }) },
      tenancy: {
        isolation: 'schema',
        store: TenantStores.table(PlacedTenant, { context: 'hub' }),
        // the template: entities, migrations, credentials; each server lays its connection options over it
        config: defineConfig({ ...common, dbName: 'tenants', user: 'app', password: process.env.DB_PASSWORD, entities: [Note] }),
        servers: {
          eu1: { host: 'eu1.db', pool: { max: 20 } }, // the first server also holds tenants whose record names none
          eu2: { host: 'eu2.db', pool: { max: 20 } },
          us1: { clientUrl: 'postgresql://app@us1.db:5432/tenants', closedToNewTenants: true },
        },
        // optional: the default places a new tenant on the open server with the fewest tenants
        placement: ({ tenant, servers }) => (tenant.region === 'us' ? 'us1' : servers.filter((s) => s.name !== 'us1').sort((a, b) => a.tenants - b.tenants)[0]!.name),
        // optional: big tenants get a database of their own, holding their schema
        databaseTier: { dbName: (tenant) => `tenant_${tenant.id}` },
      },
    }),
  ],
})
export class ServersModule {}

// docs/servers.md: creating and moving tenants
import { Injectable } from '@nestjs/common';
import { TenantLifecycle } from 'nestjs-mikro-tenancy';

@Injectable()
export class TenantPlacementService {
  constructor(private readonly lifecycle: TenantLifecycle<PlacedTenant>) {}

  async signUp(id: string, region: string): Promise<string | undefined> {
    const { tenant } = await this.lifecycle.create(id, { region }); // placed by tenancy.placement
    return tenant.server;
  }

  async signUpEnterprise(id: string): Promise<void> {
    await this.lifecycle.create(id, { tier: 'database' }, { server: 'eu2' }); // a database of its own on eu2
  }

  async rebalance(id: string): Promise<number | undefined> {
    const result = await this.lifecycle.move(id, { server: 'eu2' }); // online; rerun it after a failure
    return result.pausedMs; // how long the tenant's work was held for the last step
  }

  async promote(id: string): Promise<void> {
    await this.lifecycle.move(id, { tier: 'database' }); // its schema into a database of its own, same server
  }
}

// docs/servers.md: Citus
@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: { hub: defineConfig({ ...common, host: 'coordinator.db', dbName: 'hub', entities: [PlacedTenant] }) },
      tenancy: {
        isolation: 'schema',
        store: TenantStores.table(PlacedTenant, { context: 'hub' }),
        config: defineConfig({ ...common, host: 'coordinator.db', dbName: 'tenants', entities: [Note] }),
        // Citus schema-based sharding: distribute each new tenant schema once its tables exist, before any data
        afterStorageCreated: async ({ em, tenant }) => {
          await em.getConnection().execute('select citus_schema_distribute(?)', [`tenant_${tenant.id}`]);
        },
      },
    }),
  ],
})
export class CitusModule {}

// docs/servers.md: a shared tier
import { randomUUID } from 'node:crypto';

/** Keys unique across tenants: the shared tier's rows of every tenant meet in one table (serial keys are refused). */
@Entity({ tableName: 'document' })
export class Document {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'string' })
  title!: string;
}

@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: { hub: defineConfig({ ...common, dbName: 'hub', entities: [PlacedTenant] }) },
      tenancy: {
        isolation: 'schema',
        store: TenantStores.table(PlacedTenant, { context: 'hub' }),
        config: defineConfig({ ...common, dbName: 'tenants', user: 'app', password: process.env.DB_PASSWORD, entities: [Document] }),
        // tier 'shared': rows in schema nmt_shared of database tenants_shared, scoped by a tenant_id column
        sharedTier: { dbName: 'tenants_shared' },
        // tier 'database': a database of its own; no tier (or 'schema'): a schema of its own in 'tenants'
        databaseTier: {},
        // the app role is bound by row-level security; the tables' owner runs the migrations
        migrateAs: { user: 'owner', password: process.env.DB_OWNER_PASSWORD },
      },
    }),
  ],
})
export class TieredModule {}
