import { MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContextConfig } from '../../src/options/tenancy-options.js';
import { DEFAULT_SHARED_COLUMN } from '../fixtures/shared-column.js';
import { InvalidTenancyOptionsError } from '../../src/errors/options.errors.js';
import { mixedTierDiscovery, tenantKeyUniqueName, withMixedTierTables } from '../../src/isolation/schema/mixed-tier-metadata.js';
import { createTenantMigration } from '../../src/lifecycle/create-tenant-migration.js';
import { TENANT_ENTITIES } from '../fixtures/relational/entities.js';

/**
 * Step 2 of docs/internals/mixed-tiers.md: the metadata every ORM on the tenant entities shares when shared tables
 * sit next to the schema and database tiers. No database: what MikroORM would create and generate from it.
 */
const SHARED = DEFAULT_SHARED_COLUMN;

/** A tenant entity whose key a sequence hands out: cannot move into the shared tables. */
@Entity({ tableName: 'invoice' })
class Invoice {
  @PrimaryKey({ type: 'integer' })
  id!: number;

  @Property({ type: 'integer' })
  total!: number;
}

function mixedConfig(entities: unknown[], wildcardSchema: boolean, extra: Partial<ContextConfig> = {}): ContextConfig {
  const template = { entities, dbName: 'mixed_tier_unit', ...extra } as ContextConfig;
  return { ...template, ...withMixedTierTables(template), discovery: mixedTierDiscovery(template, 'tenant', SHARED, () => undefined, { wildcardSchema }) };
}

async function withOrm<R>(config: ContextConfig, use: (orm: MikroORM) => Promise<R> | R): Promise<R> {
  const orm = await MikroORM.init({ ...config, connect: false } as never);
  try {
    return await use(orm);
  } finally {
    await orm.close();
  }
}

/** Every tenant table: entities, the explicit pivot, both generated pivots, the single-table-inheritance root. */
const TENANT_TABLES = ['author', 'author_following', 'profile', 'tag', 'article', 'article_tags', 'comment', 'favorite', 'content'];
const LIBRARY_TABLES = ['nmt_dropped_tenant', 'nmt_fenced_tenant'];

/** The statements of `table`: its create table and every statement naming it as the table acted on. */
function statementsOf(sql: string, table: string): string[] {
  const on = new RegExp(`^(create table "${table}" |alter table "${table}" |create (unique )?index "[^"]+" on "${table}" |create trigger "[^"]+" .* on "${table}" |create policy "[^"]+" on "${table}" )`);
  return sql.split(/;\n?/).map((s) => s.trim()).filter((s) => on.test(s));
}

describe('mixed tiers: one metadata for the shared, schema and database tiers (issue 17, step 2)', () => {
  let sql: string;
  beforeAll(async () => {
    sql = await withOrm(mixedConfig(TENANT_ENTITIES, false), (orm) => orm.schema.getCreateSchemaSQL({ wrap: false }));
  });

  it('gives every tenant table, generated pivots included, a not-null tenant column that defaults to nmt_tenant()', () => {
    for (const table of TENANT_TABLES) {
      const [create] = statementsOf(sql, table);
      expect({ table, create }).toEqual({ table, create: expect.stringContaining('"tenant_id" text not null default nmt_tenant()') });
    }
    for (const table of LIBRARY_TABLES) expect(statementsOf(sql, table)[0]).not.toContain('nmt_tenant()');
  });

  it('reads no session setting anywhere: a tenant schema needs no setting and no transaction per query', () => {
    expect(sql).not.toContain('current_setting');
  });

  it('makes (tenant, primary key) unique on every tenant table, the replica identity of a tenant in the shared tables', () => {
    const keys: Record<string, string> = {
      author: '"id"', profile: '"id"', tag: '"id"', article: '"id"', comment: '"id"', content: '"id"',
      author_following: '"author_1_id", "author_2_id"', article_tags: '"article_id", "tag_id"', favorite: '"author_id", "article_id"',
    };
    for (const table of TENANT_TABLES) {
      expect(statementsOf(sql, table)).toContain(`alter table "${table}" add constraint "${table}_tenant_key_unique" unique ("tenant_id", ${keys[table]})`);
    }
    // declared uniques stay per tenant, as in table mode
    expect(statementsOf(sql, 'tag')).toContain('alter table "tag" add constraint "tag_tenant_id_name_unique" unique ("tenant_id", "name")');
  });

  it('forces row-level security on every tenant table, comparing with nmt_tenant(), the pivots on their own column', () => {
    for (const table of TENANT_TABLES) {
      const statements = statementsOf(sql, table);
      expect(statements).toContain(`alter table "${table}" force row level security`);
      const policy = statements.find((s) => s.startsWith('create policy'));
      expect({ table, policy }).toEqual({ table, policy: expect.stringContaining(`using ("tenant_id" = nmt_tenant()) with check ("tenant_id" = nmt_tenant() and not exists`) });
    }
    // written pivot rows must still link rows of the tenant
    expect(statementsOf(sql, 'article_tags').find((s) => s.startsWith('create policy'))).toContain('exists (select 1 from "tag" r where r."id" = "article_tags"."tag_id")');
    // the library's own tables: each tenant sees and writes its own row only (no tenant marks another dropped or fenced)
    for (const table of LIBRARY_TABLES) {
      expect(statementsOf(sql, table)).toEqual(
        expect.arrayContaining([
          `alter table "${table}" force row level security`,
          `create policy "${table}_tenant_isolation" on "${table}" using ("tenant_id" = (nmt_tenant())::text) with check ("tenant_id" = (nmt_tenant())::text)`,
        ]),
      );
    }
  });

  it('puts the fence trigger on every tenant table, bound to the schema\'s own function, and none on its own tables', () => {
    for (const table of TENANT_TABLES) {
      expect(statementsOf(sql, table)).toContain(
        `create trigger "nmt_fence" before insert or update or delete on "${table}" for each row execute function nmt_refuse_fenced()`,
      );
    }
    for (const table of LIBRARY_TABLES) expect(statementsOf(sql, table).some((s) => s.startsWith('create trigger'))).toBe(false);
  });

  it('serving and migration ORMs: the same metadata on wildcard-schema entities (each fork names its schema)', async () => {
    const shape = (orm: MikroORM) =>
      [...orm.getMetadata().getAll().values()]
        .filter((meta) => !meta.embeddable && !meta.virtual)
        .map((meta) => ({
          table: meta.tableName,
          tenantColumn: meta.properties.tenantId?.defaultRaw,
          uniques: meta.uniques.map((u) => [u.properties].flat().join(',')).sort(),
          triggers: (meta.triggers ?? []).map((t) => t.name),
          policies: (meta.policies ?? []).map((p) => `${p.using} / ${p.check}`),
        }))
        .sort((a, b) => a.table.localeCompare(b.table));
    const generator = await withOrm(mixedConfig(TENANT_ENTITIES, false), shape);
    const { serving, schemas } = await withOrm(mixedConfig(TENANT_ENTITIES, true), (orm) => ({
      serving: shape(orm),
      schemas: [...new Set([...orm.getMetadata().getAll().values()].filter((m) => !m.embeddable).map((m) => m.schema))],
    }));
    expect(serving).toEqual(generator);
    expect(schemas).toEqual(['*']);
  });

  it('refuses a tenant entity with a serial key, naming it and the fix', async () => {
    const init = withOrm(mixedConfig([...TENANT_ENTITIES, Invoice], true), () => undefined);
    await expect(init).rejects.toThrow(InvalidTenancyOptionsError);
    await expect(withOrm(mixedConfig([...TENANT_ENTITIES, Invoice], false), () => undefined)).rejects.toThrow(
      /Invoice\.id is a generated serial key.*@PrimaryKey\(\{ type: 'uuid' \}\) id = randomUUID\(\)/,
    );
  });

  it('names the (tenant, primary key) index within 63 bytes, a long table name cut and told apart by a hash', () => {
    expect(tenantKeyUniqueName('author')).toBe('author_tenant_key_unique');
    const long = (end: string) => `${'a_very_long_table_name_'.repeat(3)}${end}`;
    const [one, two] = [tenantKeyUniqueName(long('one')), tenantKeyUniqueName(long('two'))];
    expect(Buffer.byteLength(one)).toBeLessThanOrEqual(63);
    expect(one).toMatch(/^a_very_long_table_name_.*_[0-9a-f]{8}_tenant_key_unique$/);
    expect(one).not.toBe(two);
    expect(Buffer.byteLength(tenantKeyUniqueName(`${'é'.repeat(40)}`))).toBeLessThanOrEqual(63);
  });

  describe('migration:create through createTenantMigration', () => {
    let folder: string;
    beforeAll(() => {
      folder = mkdtempSync(join(tmpdir(), 'nmt-mixed-migrations-'));
    });
    afterAll(() => rmSync(folder, { recursive: true, force: true }));

    it('writes the tenant tables once, then finds nothing to change (defaults, policies, pivot columns, triggers)', async () => {
      const config = mixedConfig(TENANT_ENTITIES, false, { driver: PostgreSqlDriver, extensions: [Migrator], migrations: { path: folder, emit: 'js' } });
      const first = await createTenantMigration('tenant', config, {});
      expect(first.fileName).not.toBe('');
      for (const table of [...TENANT_TABLES, ...LIBRARY_TABLES]) expect(first.code).toContain(`create table "${table}"`);
      expect(first.code).toContain('create trigger "nmt_fence" before insert or update or delete on "article_tags"');
      expect(first.code).not.toMatch(/create table "[^"]+"\."/); // unqualified: one migration for every schema
      const second = await createTenantMigration('tenant', config, {});
      expect(second).toEqual({ fileName: '', code: '' });
    });
  });
});
