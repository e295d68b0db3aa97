/**
 * The data of scenario 10 (shared tables, `isolation: 'table'`): one database, bench_shared, whose tables hold every
 * tenant's rows with a `tenant_id` column, made with the DDL the library itself generates for the bench entities
 * (the serving ORM's options in table mode, printed by MikroORM's schema generator: the tenant column with its
 * default, indexes, foreign keys, the forced row-level security policies, the pivot's included, and any table of the
 * library's own that its tenant migrations make), then seeded with plain SQL.
 *
 * One deliberate change to the generated DDL: `item` gets the primary key (tenant_id, id), so every tenant has the
 * item ids 1..SEEDED_ROWS and the findOne load (`GET /items/:id`, a random id in that range) and its check stay as in
 * the other modes; the entity's primary key stays `id`, and the tenant filter adds `tenant_id = ?`. The relational
 * tables keep the generated keys, unique across tenants as docs/isolation.md asks (the pivot has no tenant column, so
 * ids repeated across tenants would collide there): tenant n's articles, authors and tags are a block of ids. Their
 * requests name no id, so the relational load and check are unchanged too.
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { Logger } from '@nestjs/common';
import type pg from 'pg';
import { tableModeOrmOptions } from '../src/isolation/table/table-isolation.js';
import type { SharedTablesOptions } from '../src/options/tenancy-options.js';
import { RELATIONAL } from './entities.js';
import { ormConfig } from './servers/orm-config.js';

/** The login role the row-level security scenarios serve as: not a superuser, no BYPASSRLS, row privileges only. */
export const SHARED_APP_ROLE = { user: 'bench_rls_app', password: 'bench_rls_app' } as const;

/** The library's defaults (docs/isolation.md), spelled out: the generated DDL and the servers must agree on them. */
export const SHARED_TABLES: Required<SharedTablesOptions> = {
  column: 'tenant_id',
  property: 'tenantId',
  type: 'text',
  rowLevelSecurity: true,
  setting: 'nmt.tenant_id',
  uniques: 'per-tenant',
  bypassingRole: 'refuse',
};

const TAG_OFFSETS = [0, 7, 13]; // as entities.ts seeds them: 3 distinct tags per article

/**
 * The tenant-table DDL the library's migration generator would write for the bench entities, split into the tables
 * (run before seeding) and the row-level security statements (after: with FORCE, even an owner that is not a
 * superuser could not seed without a tenant setting). Nothing is connected.
 */
export async function generatedSharedTablesDdl(): Promise<{ tables: string[]; rls: string[] }> {
  const template = ormConfig('postgresql://unused@127.0.0.1:1/unused');
  // the serving ORM's own options in table mode: the same entities, discovery and tables as its tenant migrations
  const options = tableModeOrmOptions({ contextName: 'tenant', template, shared: SHARED_TABLES, currentTenantId: () => undefined, logger: new Logger('bench') });
  const orm = await MikroORM.init(options);
  try {
    const statements = (await orm.schema.getCreateSchemaSQL({ wrap: false }))
      .split(/;\s*\n/)
      .map((s) => s.trim().replace(/;$/, ''))
      .filter((s) => s && !/^set names/i.test(s));
    const isRls = (s: string): boolean => /row level security|^create policy/i.test(s);
    const rls = statements.filter(isRls);
    if (!rls.some((s) => /create policy "article_tags_tenant_isolation"/.test(s))) throw new Error('the generated DDL has no pivot policy: did the library change?');
    return { tables: statements.filter((s) => !isRls(s)), rls };
  } finally {
    await orm.close();
  }
}

/** Seeds `tenants` tenants: SEEDED_ROWS items each (ids 1..rows per tenant) and RELATIONAL's model in blocks of ids. */
export function seedSharedSql(tenants: number, itemRows: number): string {
  const { articles, authors, tags } = RELATIONAL;
  const t = `(select n, 't' || lpad(n::text, 4, '0') as tid from generate_series(1, ${tenants}) n) t`;
  return [
    `insert into "item" ("tenant_id", "id", "tenant", "title") select tid, g, tid, 'item ' || g from ${t}, generate_series(1, ${itemRows}) g;`,
    `insert into "author" ("tenant_id", "id", "name", "email") select tid, (n - 1) * ${authors} + g, 'author ' || g || ' @' || tid, 'author' || g || '@example.com' from ${t}, generate_series(1, ${authors}) g;`,
    `insert into "tag" ("tenant_id", "id", "name") select tid, (n - 1) * ${tags} + g, 'tag ' || g || ' @' || tid from ${t}, generate_series(1, ${tags}) g;`,
    `insert into "article" ("tenant_id", "id", "title", "summary", "published_at", "author_id") select tid, (n - 1) * ${articles} + g, 'article ' || g, repeat('lorem ipsum ', 10), timestamptz '2026-01-01' + g * interval '1 hour', (n - 1) * ${authors} + 1 + g % ${authors} from ${t}, generate_series(1, ${articles}) g;`,
    `insert into "article_tags" ("article_id", "tag_id") select (n - 1) * ${articles} + a, (n - 1) * ${tags} + 1 + (a + o) % ${tags} from ${t}, generate_series(1, ${articles}) a, unnest(array[${TAG_OFFSETS.join(', ')}]) o;`,
    // new rows (POST /items) take ids after every seeded one
    ...['item', 'author', 'tag', 'article'].map((table) => `select setval(pg_get_serial_sequence('"${table}"', 'id'), (select max("id") from "${table}"));`),
    'analyze;',
  ].join(' ');
}

/**
 * Makes the tables in the (empty) database `client` is connected to, as its user (the tables' owner), seeds them,
 * switches row-level security on, and gives SHARED_APP_ROLE (created if missing; roles are cluster-wide) row
 * privileges in it.
 */
export async function createSharedTables(client: pg.Client, tenants: number, itemRows: number): Promise<void> {
  const ddl = await generatedSharedTablesDdl();
  await client.query('begin');
  for (const statement of ddl.tables) await client.query(statement);
  // the one change to the generated DDL (see the file comment)
  await client.query('alter table "item" drop constraint "item_pkey", add primary key ("tenant_id", "id")');
  await client.query('commit');
  await client.query(seedSharedSql(tenants, itemRows));
  await client.query(`begin; ${ddl.rls.map((s) => `${s};`).join(' ')} commit;`);
  const { user, password } = SHARED_APP_ROLE;
  const exists = await client.query('select 1 from pg_roles where rolname = $1', [user]);
  if (!exists.rowCount) await client.query(`create role "${user}" login`);
  await client.query(`alter role "${user}" login nosuperuser nobypassrls password '${password}'`);
  await client.query(
    [
      `grant usage on schema public to "${user}";`,
      `grant select, insert, update, delete on all tables in schema public to "${user}";`,
      `grant usage, select on all sequences in schema public to "${user}";`,
    ].join(' '),
  );
}

/** The URL of the same database as SHARED_APP_ROLE. */
export function asSharedAppRole(url: string): string {
  const parsed = new URL(url);
  parsed.username = SHARED_APP_ROLE.user;
  parsed.password = SHARED_APP_ROLE.password;
  return parsed.toString();
}
