import { Migration } from '@mikro-orm/migrations';

export class Migration20261130192738_projects_tasks extends Migration {

  override name = 'Migration20261130192738_projects_tasks';

  override up(): void | Promise<void> {
    this.addSql(`create table "nmt_dropped_tenant" ("tenant_id" text not null, "dropped_at" timestamptz null default current_timestamp, primary key ("tenant_id"));`);

    this.addSql(`create table "project" ("id" serial primary key, "name" varchar(255) not null, "created_at" timestamptz not null, "tenant_id" text not null default nullif(current_setting('nmt.tenant_id', true), ''));`);
    this.addSql(`create index "project_tenant_id_index" on "project" ("tenant_id");`);

    this.addSql(`create table "task" ("id" serial primary key, "project_id" int not null, "title" varchar(255) not null, "done" boolean not null default false, "tenant_id" text not null default nullif(current_setting('nmt.tenant_id', true), ''));`);
    this.addSql(`create index "task_tenant_id_index" on "task" ("tenant_id");`);

    this.addSql(`alter table "project" enable row level security;`);
    this.addSql(`alter table "project" force row level security;`);
    this.addSql(`create policy "project_tenant_isolation" on "project" using ("tenant_id" = nullif(current_setting('nmt.tenant_id', true), '')) with check ("tenant_id" = nullif(current_setting('nmt.tenant_id', true), '') and not exists (select 1 from "nmt_dropped_tenant" d where d."tenant_id" = nullif(current_setting('nmt.tenant_id', true), '')::text));`);

    this.addSql(`alter table "task" add constraint "task_project_id_foreign" foreign key ("project_id") references "project" ("id") on delete cascade;`);
    this.addSql(`alter table "task" enable row level security;`);
    this.addSql(`alter table "task" force row level security;`);
    this.addSql(`create policy "task_tenant_isolation" on "task" using ("tenant_id" = nullif(current_setting('nmt.tenant_id', true), '')) with check ("tenant_id" = nullif(current_setting('nmt.tenant_id', true), '') and not exists (select 1 from "nmt_dropped_tenant" d where d."tenant_id" = nullif(current_setting('nmt.tenant_id', true), '')::text) and ("task"."project_id" is null or exists (select 1 from "project" r where r."id" = "task"."project_id")));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "task" drop constraint "task_project_id_foreign";`);

    this.addSql(`drop table if exists "nmt_dropped_tenant" cascade;`);
    this.addSql(`drop table if exists "project" cascade;`);
    this.addSql(`drop table if exists "task" cascade;`);
  }

}
