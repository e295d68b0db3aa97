import { Migration } from '@mikro-orm/migrations';

export class Migration20261201000001_item extends Migration {
  override name = 'Migration20261201000001_item';

  override up(): void {
    this.addSql(`create table "item" ("id" serial primary key, "title" varchar(255) not null);`);
  }

  override down(): void {
    this.addSql(`drop table if exists "item" cascade;`);
  }
}
