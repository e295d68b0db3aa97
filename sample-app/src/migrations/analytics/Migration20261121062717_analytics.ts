import { Migration } from '@mikro-orm/migrations';

export class Migration20261121062717_analytics extends Migration {

  override name = 'Migration20261121062717_analytics';

  override up(): void | Promise<void> {
    this.addSql(`create table "event" ("id" serial primary key, "tenant" varchar(255) not null, "name" varchar(255) not null, "at" timestamptz not null);`);
    this.addSql(`create index "event_tenant_name_index" on "event" ("tenant", "name");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "event" cascade;`);
  }

}
