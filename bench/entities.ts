import { Collection } from '@mikro-orm/core';
import { Entity, Index, ManyToMany, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * The entity of the findOne scenarios: a row per item, carrying the tenant that wrote it. The same table shape is
 * made by the bench's migration set (migrations/tenant, 1-3) and by prepareDatabases() (plain SQL, faster for 1000
 * schemas).
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

/** The relational scenarios' model, as a blog/article API has it: articles with an author (m:1) and tags (m:n). */
@Entity({ tableName: 'author' })
export class Author {
  @PrimaryKey()
  id!: number;

  /** Ends with ` @<tenant>`: what the relational responses are checked against (see verify.ts). */
  @Property()
  name!: string;

  @Property()
  email!: string;
}

@Entity({ tableName: 'tag' })
export class Tag {
  @PrimaryKey()
  id!: number;

  /** Ends with ` @<tenant>`, like Author.name. */
  @Property()
  name!: string;
}

@Entity({ tableName: 'article' })
export class Article {
  @PrimaryKey()
  id!: number;

  @Property()
  title!: string;

  @Property({ type: 'text' })
  summary!: string;

  @Index()
  @Property()
  publishedAt!: Date;

  @ManyToOne({ entity: () => Author })
  author!: Author;

  /** Generated pivot table `article_tags`. */
  @ManyToMany({ entity: () => Tag })
  tags = new Collection<Tag>(this);
}

export const BENCH_ENTITIES = [Item, Author, Tag, Article];

const qualify = (table: string, schema?: string): string => (schema ? `"${schema}"."${table}"` : `"${table}"`);

/** DDL of the `item` table (in the current schema, or `schema.` when given). */
export function itemTableSql(schema?: string): string {
  return `create table ${qualify('item', schema)} ("id" serial primary key, "tenant" varchar(255) not null, "title" varchar(255) not null);`;
}

/** Seed rows: ids 1..rows, so GET /items/:id with a random id in that range always finds a row. */
export function seedItemsSql(rows: number, tenant: string, schema?: string): string {
  return `insert into ${qualify('item', schema)} ("tenant", "title") select '${tenant}', 'item ' || g from generate_series(1, ${rows}) g;`;
}

/**
 * DDL of the relational tables: the statements of migrations/tenant/Migration20261201000004_articles.ts (generated
 * by the library's tenant migration generator from the entities above), qualified with `schema` when given.
 */
export function relationalTablesSql(schema?: string): string {
  const q = (table: string): string => qualify(table, schema);
  return [
    `create table ${q('author')} ("id" serial primary key, "name" varchar(255) not null, "email" varchar(255) not null);`,
    `create table ${q('article')} ("id" serial primary key, "title" varchar(255) not null, "summary" text not null, "published_at" timestamptz not null, "author_id" int not null);`,
    `create index "article_published_at_index" on ${q('article')} ("published_at");`,
    `create table ${q('tag')} ("id" serial primary key, "name" varchar(255) not null);`,
    `create table ${q('article_tags')} ("article_id" int not null, "tag_id" int not null, primary key ("article_id", "tag_id"));`,
    `alter table ${q('article')} add constraint "article_author_id_foreign" foreign key ("author_id") references ${q('author')} ("id");`,
    `alter table ${q('article_tags')} add constraint "article_tags_article_id_foreign" foreign key ("article_id") references ${q('article')} ("id") on update cascade on delete cascade;`,
    `alter table ${q('article_tags')} add constraint "article_tags_tag_id_foreign" foreign key ("tag_id") references ${q('tag')} ("id") on update cascade on delete cascade;`,
  ].join(' ');
}

/** Volume of the relational model per tenant (and in the baseline's one database). */
export const RELATIONAL = { articles: 200, authors: 20, tags: 30, pageSize: 20 } as const;
/** Article n gets the tags 1 + (n + offset) % tags: three distinct tags each (RELATIONAL.tags > 13). */
const TAG_OFFSETS = [0, 7, 13];
export const TAGS_PER_ARTICLE = TAG_OFFSETS.length;

/**
 * Seeds RELATIONAL's rows; author and tag names end with ` @<marker>` (the tenant id), so a response can be checked
 * to hold only its tenant's rows. Article n has author 1 + n % authors and TAGS_PER_ARTICLE tags.
 */
export function seedRelationalSql(marker: string, schema?: string): string {
  const q = (table: string): string => qualify(table, schema);
  const { articles, authors, tags } = RELATIONAL;
  return [
    `insert into ${q('author')} ("name", "email") select 'author ' || g || ' @${marker}', 'author' || g || '@example.com' from generate_series(1, ${authors}) g;`,
    `insert into ${q('tag')} ("name") select 'tag ' || g || ' @${marker}' from generate_series(1, ${tags}) g;`,
    `insert into ${q('article')} ("title", "summary", "published_at", "author_id") select 'article ' || g, repeat('lorem ipsum ', 10), timestamptz '2026-01-01' + g * interval '1 hour', 1 + g % ${authors} from generate_series(1, ${articles}) g;`,
    `insert into ${q('article_tags')} ("article_id", "tag_id") select a, 1 + (a + o) % ${tags} from generate_series(1, ${articles}) a, unnest(array[${TAG_OFFSETS.join(', ')}]) o;`,
  ].join(' ');
}

/** Re-marks a database copied from the template as `marker`'s (database mode: every tenant database is a copy). */
export function remarkSql(from: string, marker: string): string {
  return [
    `update "item" set "tenant" = '${marker}';`,
    `update "author" set "name" = replace("name", ' @${from}', ' @${marker}');`,
    `update "tag" set "name" = replace("name", ' @${from}', ' @${marker}');`,
  ].join(' ');
}
