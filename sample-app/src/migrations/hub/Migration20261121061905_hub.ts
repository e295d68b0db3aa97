import { Migration } from '@mikro-orm/migrations';

export class Migration20261121061905_hub extends Migration {

  override name = 'Migration20261121061905_hub';

  override up(): void | Promise<void> {
    this.addSql(`create table "tenant" ("id" varchar(255) not null, "name" varchar(255) not null, "suspended" boolean not null default false, primary key ("id"));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "tenant" cascade;`);
  }

}
