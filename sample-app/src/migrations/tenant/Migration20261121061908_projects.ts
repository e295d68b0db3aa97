import { Migration } from '@mikro-orm/migrations';

export class Migration20261121061908_projects extends Migration {

  override name = 'Migration20261121061908_projects';

  override up(): void | Promise<void> {
    this.addSql(`create table "project" ("id" serial primary key, "name" varchar(255) not null);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "project" cascade;`);
  }

}
