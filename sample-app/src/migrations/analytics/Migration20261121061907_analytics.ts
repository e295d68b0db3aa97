import { Migration } from '@mikro-orm/migrations';

export class Migration20261121061907_analytics extends Migration {

  override name = 'Migration20261121061907_analytics';

  override up(): void | Promise<void> {
    this.addSql(`create table "event" ("id" serial primary key, "tenant" varchar(255) not null, "name" varchar(255) not null, "at" timestamptz not null);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "event" cascade;`);
  }

}
