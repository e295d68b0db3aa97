/**
 * An app with read replicas, for test/e2e/replicas.e2e-spec.ts and test/reliability/replicas.rel-spec.ts: a static
 * context `hub` (the tenant table and `replica_item`) and database-mode tenants (`note`), each with MikroORM's own
 * `replicas` option. Every query MikroORM runs is recorded with the kind of connection it ran on (`QueryLog`).
 */
import { DefaultLogger, type LogContext, type LoggerOptions, type Options } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property, ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { EntityManager, defineConfig } from '@mikro-orm/postgresql';
import { Body, Controller, Get, Module, Post, Query } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { fileURLToPath } from 'node:url';
import {
  InjectEntityManager,
  MikroTenancyModule,
  type MikroTenancyModuleOptions,
  RequireTenant,
  TenancyService,
  TenantStores,
  isPinnedToPrimary,
  pinToPrimary,
} from '../../../src/index.js';
import { TenancyHealthIndicator } from '../../../src/health/index.js';
import { Note } from '../../fixtures/entities/note.entity.js';
import { Tenant } from '../../fixtures/entities/tenant.entity.js';

@Entity({ tableName: 'replica_item' })
export class ReplicaItem {
  @PrimaryKey()
  id!: number;

  @Property()
  title!: string;
}

/** Created by hand (the hub's committed migrations hold the tenant table only). */
export const REPLICA_ITEM_DDL = 'create table if not exists replica_item (id serial primary key, title text not null)';

/** Every query MikroORM ran, with the kind of connection it ran on ('write': the primary, 'read': a replica). */
export class QueryLog {
  readonly entries: { sql: string; type: string }[] = [];

  /** How many queries whose SQL matches `pattern` ran on each kind of connection. */
  count(pattern: RegExp): { read: number; write: number } {
    const matching = this.entries.filter((entry) => pattern.test(entry.sql));
    return { read: matching.filter((e) => e.type === 'read').length, write: matching.filter((e) => e.type === 'write').length };
  }

  clear(): void {
    this.entries.length = 0;
  }

  loggerFactory(): Options['loggerFactory'] {
    const entries = this.entries;
    return (options: LoggerOptions) =>
      new (class extends DefaultLogger {
        override logQuery(context: LogContext): void {
          // MikroORM calls logQuery for every query (debug mode only decides what is printed)
          entries.push({ sql: String(context.query), type: String(context.connection?.type) });
        }
      })(options);
  }
}

@Controller()
class ReplicaController {
  constructor(
    @InjectEntityManager('hub') private readonly em: EntityManager,
    @InjectEntityManager('tenant') private readonly tenantEm: EntityManager,
    private readonly tenancy: TenancyService,
  ) {}

  /** A write, then a read of it in the same request (read-your-writes), after `how` wrote it. */
  @Post('items')
  async add(@Body() body: { title: string }, @Query('how') how = 'flush') {
    const { title } = body;
    if (how === 'flush') await this.em.persist(this.em.create(ReplicaItem, { title })).flush();
    else if (how === 'native') await this.em.insert(ReplicaItem, { title });
    else if (how === 'transaction') await this.em.transactional((em) => em.persist(em.create(ReplicaItem, { title })).flush());
    else if (how === 'raw') await this.em.execute('insert into replica_item (title) values (?)', [title]);
    return { seen: await this.em.count(ReplicaItem, { title }), pinned: isPinnedToPrimary(this.em) };
  }

  @Get('items/count')
  async count(@Query('title') title: string, @Query('pin') pin?: string) {
    if (pin) pinToPrimary(this.em);
    return { count: await this.em.count(ReplicaItem, { title }), pinned: isPinnedToPrimary(this.em) };
  }

  @Get('items/stream')
  async stream() {
    let count = 0;
    for await (const item of this.em.stream(ReplicaItem, {})) if (item.title) count++;
    return { count };
  }

  /** The same read in a unit of work of its own (TenancyService.run), as a job would. */
  @Get('items/count-in-run')
  countInRun(@Query('title') title: string) {
    return this.tenancy.run(async () => ({ count: await this.em.count(ReplicaItem, { title }) }));
  }

  @RequireTenant()
  @Post('notes')
  async addNote(@Body() body: { title: string }) {
    const marker = this.tenancy.current().id;
    await this.tenantEm.persist(this.tenantEm.create(Note, { title: body.title, marker })).flush();
    return { seen: await this.tenantEm.count(Note, { title: body.title }) };
  }

  @RequireTenant()
  @Get('notes/count')
  async countNotes(@Query('title') title: string) {
    return { count: await this.tenantEm.count(Note, { title }), markers: await this.markers() };
  }

  private async markers(): Promise<string[]> {
    const rows = await this.tenantEm.find(Note, {}, { fields: ['marker'] });
    return [...new Set(rows.map((note) => note.marker))];
  }
}

@Controller('health')
class ReplicaHealthController {
  constructor(private readonly health: TenancyHealthIndicator) {}

  @Get()
  async check() {
    return { hub: await this.health.pingContext('hub', { timeoutMs: 3_000 }), tenants: await this.health.tenants({ timeoutMs: 3_000 }) };
  }
}

const migrationsOf = (context: 'hub' | 'tenant') => fileURLToPath(new URL(`../../fixtures/migrations/${context}`, import.meta.url));

export interface ReplicaAppSetup {
  /** Where the hub's primary is (host, port, user, password, dbName). */
  hub: { host: string; port: number; user: string; password?: string; dbName: string };
  /** The hub's replicas (MikroORM's `replicas` option). */
  hubReplicas: NonNullable<Options['replicas']>;
  /** Tenant databases are named `${databasePrefix}_${id}`. */
  databasePrefix: string;
  /** What tenancy.database(tenant) returns besides dbName (replicas of that tenant). */
  tenantReplicas?: (tenantId: string) => NonNullable<Options['replicas']> | undefined;
  queries: QueryLog;
  replicaLag?: MikroTenancyModuleOptions['replicaLag'];
}

export function replicaAppOptions(setup: ReplicaAppSetup): MikroTenancyModuleOptions {
  const common = { metadataProvider: ReflectMetadataProvider, loggerFactory: setup.queries.loggerFactory() } as const;
  const { dbName, ...server } = setup.hub;
  return {
    contexts: {
      hub: defineConfig({ ...common, ...setup.hub, entities: [Tenant, ReplicaItem], replicas: setup.hubReplicas, migrations: { path: migrationsOf('hub'), snapshot: false } }),
    },
    tenancy: {
      isolation: 'database',
      store: TenantStores.table(Tenant, { context: 'hub' }),
      config: defineConfig({ ...common, ...server, entities: [Note], pool: { max: 4 }, migrations: { path: migrationsOf('tenant'), snapshotName: '.snapshot-tenant' } }),
      database: (tenant) => {
        const replicas = setup.tenantReplicas?.(tenant.id);
        return { dbName: `${setup.databasePrefix}_${tenant.id}`, ...(replicas ? { replicas } : {}) };
      },
      pool: { maxOpenTenants: 5 },
      cacheTtlMs: 0,
      changes: false,
    },
    ...(setup.replicaLag ? { replicaLag: setup.replicaLag } : {}),
  };
}

export function replicaAppModule(setup: ReplicaAppSetup) {
  @Module({
    imports: [MikroTenancyModule.forRoot(replicaAppOptions(setup)), MikroTenancyModule.forFeature([Note], 'tenant'), TerminusModule],
    controllers: [ReplicaController, ReplicaHealthController],
    providers: [TenancyHealthIndicator],
  })
  class ReplicaAppModule {}
  return ReplicaAppModule;
}
