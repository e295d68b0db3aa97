/**
 * What the tier-move test reads by SQL: where a tenant's schema is (server x tier -> database), its titles there,
 * and what a finished move must leave on each server (tenant schemas, parked copies, publications per database;
 * replication slots and subscriptions per server; the tier databases).
 */
import type { TestPgServer } from '../../support/pg-servers.js';
import { type MoveTiersSetup, tierDatabaseOf } from './move-tiers-options.js';

export interface Place {
  server: 'x' | 'y';
  tier: 'schema' | 'database';
}

/** One database's leftovers: its tenant schemas (and parked copies) and publications. */
export interface DatabaseState {
  schemas: string | null;
  publications: string;
}

export interface ServerState {
  /** The shared database (tenancy.config's dbName). */
  shared: DatabaseState;
  /** Tier databases on the server (of any tenant), with their own leftovers. */
  tierDatabases: Record<string, DatabaseState>;
  slots: string;
  subscriptions: string;
}

export class MoveTiersPlaces {
  constructor(
    private readonly servers: Record<'hub' | 'x' | 'y', TestPgServer>,
    private readonly setup: MoveTiersSetup,
  ) {}

  /** The database holding the tenant's schema at `place`. */
  databaseOf(place: Place, tenant: string): string {
    return place.tier === 'database' ? tierDatabaseOf(this.setup, tenant) : this.setup.tenantsDb;
  }

  on(name: 'hub' | 'x' | 'y'): TestPgServer {
    return this.servers[name];
  }

  /** The tenant's titles at `place` (undefined: no such database or schema). */
  async titlesAt(place: Place, tenant: string, like = '%'): Promise<string[] | undefined> {
    const db = this.databaseOf(place, tenant);
    const server = this.servers[place.server];
    if (!(await server.sql('postgres', 'select 1 from pg_database where datname = $1', [db])).length) return undefined;
    if (!(await server.sql(db, 'select 1 from pg_namespace where nspname = $1', [`tenant_${tenant}`])).length) return undefined;
    return (await server.sql<{ title: string }>(db, `select title from "tenant_${tenant}".note where title like $1`, [like])).map((r) => r.title);
  }

  async recordOf(tenant: string): Promise<{ server: string | null; tier: string | null } | undefined> {
    return (await this.servers.hub.sql<{ server: string | null; tier: string | null }>(this.setup.hubDb, 'select server, tier from placed_tenant where id = $1', [tenant]))[0];
  }

  /** What a finished move of `tenant` to `at` leaves: its schema only there, no tier database elsewhere, nothing of the move. */
  expectedStates(tenant: string, at: Place, neighbours: Record<'x' | 'y', string[]>): Record<'x' | 'y', ServerState> {
    const stateOf = (name: 'x' | 'y'): ServerState => ({
      shared: { schemas: [...(at.server === name && at.tier === 'schema' ? [tenant] : []), ...neighbours[name]].map((t) => `tenant_${t}`).sort().join(','), publications: '0' },
      tierDatabases: at.server === name && at.tier === 'database' ? { [tierDatabaseOf(this.setup, tenant)]: { schemas: `tenant_${tenant}`, publications: '0' } } : {},
      slots: '0',
      subscriptions: '0',
    });
    return { x: stateOf('x'), y: stateOf('y') };
  }

  async stateOf(name: 'x' | 'y'): Promise<ServerState> {
    const server = this.servers[name];
    const tierDatabases: Record<string, DatabaseState> = {};
    const names = await server.sql<{ datname: string }>('postgres', `select datname from pg_database where datname like $1 order by 1`, [`${this.setup.tierDbPrefix}\\_%`]);
    for (const { datname } of names) tierDatabases[datname] = await this.databaseState(server, datname);
    const [counts] = await server.sql<{ slots: string; subscriptions: string }>(
      'postgres',
      'select (select count(*) from pg_replication_slots)::text as slots, (select count(*) from pg_subscription)::text as subscriptions',
    );
    return { shared: await this.databaseState(server, this.setup.tenantsDb), tierDatabases, slots: counts?.slots ?? '?', subscriptions: counts?.subscriptions ?? '?' };
  }

  private async databaseState(server: TestPgServer, db: string): Promise<DatabaseState> {
    const [row] = await server.sql<DatabaseState>(
      db,
      `select (select string_agg(nspname, ',' order by nspname) from pg_namespace where nspname like 'tenant\\_%' or nspname like 'nmt\\_move\\_%') as schemas,
              (select count(*) from pg_publication)::text as publications`,
    );
    return row as DatabaseState;
  }
}
