/**
 * Two PostgreSQL clusters with wal_level = logical, a "shop" tenant schema (foreign keys, serial and identity
 * columns, a pivot table), the tenant record the move switches, and the engine's options as the lead's
 * TenantLifecycle.move would pass them. Used in-process by tenant-move-engine.rel-spec.ts and by its child process.
 */
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import pg from 'pg';
import { pollUntil } from './child-process.js';
import { type MoveSide, moveSideOf } from '../../../src/isolation/move/move-sql.js';
import type { SchemaMoveOptions } from '../../../src/isolation/move/schema-move.js';

export const APP_DB = 'app';

/** Where everything is: the app database on each cluster, and the record (on the source cluster's postgres db). */
export interface MoveWorld {
  readonly sourceUrl: string;
  readonly targetUrl: string;
  readonly recordUrl: string;
  /** The source app database as the target server reaches it. */
  readonly sourceConninfo: string;
}

/** The app database on each server (or two databases of one server: pass the same URL twice and two names). */
export function worldOf(sourceServerUrl: string, targetServerUrl: string, databases: { source: string; target: string } = { source: APP_DB, target: APP_DB }): MoveWorld {
  const src = new URL(sourceServerUrl);
  const withDb = (url: string, db: string) => Object.assign(new URL(url), { pathname: `/${db}` }).toString();
  return {
    sourceUrl: withDb(sourceServerUrl, databases.source),
    targetUrl: withDb(targetServerUrl, databases.target),
    recordUrl: sourceServerUrl,
    sourceConninfo: `host=${src.hostname} port=${src.port} user=${decodeURIComponent(src.username || 'postgres')} dbname=${databases.source}`,
  };
}

/** The same two databases the other way round (a move back); the record stays where it was. */
export function reversed(world: MoveWorld): MoveWorld {
  const dst = new URL(world.targetUrl);
  return {
    sourceUrl: world.targetUrl,
    targetUrl: world.sourceUrl,
    recordUrl: world.recordUrl,
    sourceConninfo: `host=${dst.hostname} port=${dst.port} user=${decodeURIComponent(dst.username || 'postgres')} dbname=${dst.pathname.slice(1)}`,
  };
}

/** What a failed move leaves (its subscription keeps going, so a rerun continues it) removed, so the next test has the workers and slots. */
export async function removeReplication(world: MoveWorld): Promise<void> {
  const own = 'subdbid = (select oid from pg_database where datname = current_database())';
  for (const { subname } of await runSql<{ subname: string }>(world.targetUrl, `select subname from pg_subscription where ${own}`)) {
    await runSql(world.targetUrl, `alter subscription ${subname} disable; alter subscription ${subname} set (slot_name = none); drop subscription ${subname}`);
  }
  const slots = 'from pg_replication_slots where database = current_database()';
  await pollUntil(async () => (await runSql(world.sourceUrl, `select 1 ${slots} and active`)).length === 0, 10_000, 50);
  await runSql(world.sourceUrl, `select pg_drop_replication_slot(slot_name) ${slots}`);
  for (const { pubname } of await runSql<{ pubname: string }>(world.sourceUrl, 'select pubname from pg_publication')) await runSql(world.sourceUrl, `drop publication ${pubname}`);
}

/** Rows and visit counters of the tenant before writers start: the move must carry these plus every acknowledged write. */
export interface TenantSnapshot {
  readonly orders: number;
  readonly pivot: number;
  readonly visits: ReadonlyMap<number, number>;
}

export async function snapshotOf(url: string, schema: string): Promise<TenantSnapshot> {
  const s = `"${schema}"`;
  const [counts] = await runSql<{ orders: string; pivot: string }>(url, `select (select count(*) from ${s}.orders)::text as orders, (select count(*) from ${s}.order_product)::text as pivot`);
  const visits = await runSql<{ id: number; visits: number }>(url, `select id, visits from ${s}.customer`);
  return { orders: Number(counts!.orders), pivot: Number(counts!.pivot), visits: new Map(visits.map((r) => [r.id, r.visits])) };
}

export function worldFromEnv(): MoveWorld {
  const { MOVE_SOURCE_URL, MOVE_TARGET_URL, MOVE_RECORD_URL, MOVE_SOURCE_CONNINFO } = process.env;
  if (!MOVE_SOURCE_URL || !MOVE_TARGET_URL || !MOVE_RECORD_URL || !MOVE_SOURCE_CONNINFO) throw new Error('MOVE_* environment variables missing');
  return { sourceUrl: MOVE_SOURCE_URL, targetUrl: MOVE_TARGET_URL, recordUrl: MOVE_RECORD_URL, sourceConninfo: MOVE_SOURCE_CONNINFO };
}

export function worldEnv(world: MoveWorld): Record<string, string> {
  return { MOVE_SOURCE_URL: world.sourceUrl, MOVE_TARGET_URL: world.targetUrl, MOVE_RECORD_URL: world.recordUrl, MOVE_SOURCE_CONNINFO: world.sourceConninfo };
}

/** The tenant migrations, idempotent (the engine calls createTargetSchema again on a rerun). */
export function shopDdl(schema: string): string {
  const s = `"${schema}"`;
  return `
    create schema if not exists ${s};
    comment on schema ${s} is 'nestjs-mikro-tenancy:tenant=${schema}';
    create table if not exists ${s}.customer (id serial primary key, name text not null, visits int not null default 0);
    create table if not exists ${s}.product (id int generated always as identity primary key, title text not null, price numeric(10,2) not null);
    create table if not exists ${s}.orders (id bigserial primary key, customer_id int not null references ${s}.customer (id),
      note text not null unique, created_at timestamptz not null default now(), total numeric(12,2), tags text[] not null default '{}');
    create table if not exists ${s}.order_product (order_id bigint not null references ${s}.orders (id) on delete cascade,
      product_id int not null references ${s}.product (id), qty int not null, primary key (order_id, product_id));
    create index if not exists orders_customer_idx on ${s}.orders (customer_id);`;
}

export const CUSTOMERS = 20;
const PRODUCTS = 50;

/** The tenant on the source with `orders` seeded orders (one pivot row each), and its record pointing at the source. */
export async function createTenant(world: MoveWorld, schema: string, orders: number): Promise<void> {
  await runSql(world.sourceUrl, `${shopDdl(schema)}
    insert into "${schema}".customer (name) select 'c' || g from generate_series(1, ${CUSTOMERS}) g;
    insert into "${schema}".product (title, price) select 'p' || g, g * 1.5 from generate_series(1, ${PRODUCTS}) g;
    insert into "${schema}".orders (customer_id, note, total, tags) select 1 + g % ${CUSTOMERS}, 'seed-' || g, g % 1000 + 0.25, array['t' || g % 7] from generate_series(1, ${orders}) g;
    insert into "${schema}".order_product select o.id, 1 + o.id % ${PRODUCTS}, 1 + o.id % 5 from "${schema}".orders o;`);
  await runSql(world.recordUrl, `create table if not exists move_record (schema text primary key, side text not null);
    insert into move_record values ('${schema}', 'source') on conflict (schema) do update set side = 'source'`);
}

export async function runSql<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function recordSide(world: MoveWorld, schema: string): Promise<'source' | 'target'> {
  const [row] = await runSql<{ side: 'source' | 'target' }>(world.recordUrl, 'select side from move_record where schema = $1', [schema]);
  return row!.side;
}

/** A MikroORM instance (no entities) on one database, and the engine's side on it. */
export async function openSide(url: string): Promise<{ orm: MikroORM; side: MoveSide }> {
  const orm = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: url, entities: [], discovery: { warnWhenNoEntities: false }, pool: { min: 0, max: 4 } });
  return { orm, side: moveSideOf(orm) };
}

/** The engine's options for this world, with the fence timed (fence() to unfence()). */
export function moveOptions(
  world: MoveWorld,
  schema: string,
  moveId: string,
  sides: { source: MoveSide; target: MoveSide },
  extra: Partial<SchemaMoveOptions> = {},
): SchemaMoveOptions & { fences: { fencedAt?: number; unfencedAt?: number; switches: number } } {
  const fences: { fencedAt?: number; unfencedAt?: number; switches: number } = { switches: 0 };
  return {
    ...sides,
    schema,
    moveId,
    sourceConninfo: world.sourceConninfo,
    createTargetSchema: async () => void (await runSql(world.targetUrl, shopDdl(schema))),
    recordPointsAtTarget: async () => (await recordSide(world, schema)) === 'target',
    switchRecord: async () => {
      fences.switches++;
      await runSql(world.recordUrl, `update move_record set side = 'target' where schema = $1`, [schema]);
    },
    fence: async () => void (fences.fencedAt = performance.now()),
    unfence: async () => void (fences.unfencedAt = performance.now()),
    timing: { fenceLockTimeoutMs: 1_000, catchUpTimeoutMs: 3_000, catchUpMs: 500, syncTimeoutMs: 60_000 },
    fences,
    ...extra,
  };
}
