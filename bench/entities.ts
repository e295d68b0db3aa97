import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * The one entity of every scenario: a row per item, carrying the tenant that wrote it. The same table shape is made
 * by the bench's 3-migration set (migrations/tenant) and by prepareDatabases() (plain SQL, faster for 1000 schemas).
 */
@Entity({ tableName: 'item' })
export class Item {
  @PrimaryKey()
  id!: number;

  @Property()
  tenant!: string;

  @Property()
  title!: string;
}

/** DDL of the `item` table (in the current schema, or `schema.` when given). */
export function itemTableSql(schema?: string): string {
  const table = schema ? `"${schema}"."item"` : '"item"';
  return `create table ${table} ("id" serial primary key, "tenant" varchar(255) not null, "title" varchar(255) not null);`;
}

/** Seed rows: ids 1..rows, so GET /items/:id with a random id in that range always finds a row. */
export function seedItemsSql(rows: number, tenant: string, schema?: string): string {
  const table = schema ? `"${schema}"."item"` : '"item"';
  return `insert into ${table} ("tenant", "title") select '${tenant}', 'item ' || g from generate_series(1, ${rows}) g;`;
}
