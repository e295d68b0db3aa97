import { Migration } from '@mikro-orm/migrations';

export class Migration20261121062724_hub extends Migration {

  override name = 'Migration20261121062724_hub';

  override up(): void | Promise<void> {
    this.addSql(`create table "tenant" ("id" varchar(255) not null, "name" varchar(255) not null, "suspended" boolean not null default false, "created_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "app_user" ("id" serial primary key, "email" varchar(255) not null);`);
    this.addSql(`alter table "app_user" add constraint "app_user_email_unique" unique ("email");`);

    this.addSql(`create table "membership" ("id" serial primary key, "user_id" int not null, "tenant_id" varchar(255) not null, "role" varchar(255) not null);`);
    this.addSql(`alter table "membership" add constraint "membership_user_id_tenant_id_unique" unique ("user_id", "tenant_id");`);

    this.addSql(`alter table "membership" add constraint "membership_user_id_foreign" foreign key ("user_id") references "app_user" ("id");`);
    this.addSql(`alter table "membership" add constraint "membership_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "membership" drop constraint "membership_tenant_id_foreign";`);
    this.addSql(`alter table "membership" drop constraint "membership_user_id_foreign";`);

    this.addSql(`drop table if exists "tenant" cascade;`);
    this.addSql(`drop table if exists "app_user" cascade;`);
    this.addSql(`drop table if exists "membership" cascade;`);
  }

}
