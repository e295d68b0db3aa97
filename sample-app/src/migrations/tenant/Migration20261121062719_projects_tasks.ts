import { Migration } from '@mikro-orm/migrations';

export class Migration20261121062719_projects_tasks extends Migration {

  override name = 'Migration20261121062719_projects_tasks';

  override up(): void | Promise<void> {
    this.addSql(`create table "project" ("id" serial primary key, "name" varchar(255) not null, "created_at" timestamptz not null);`);

    this.addSql(`create table "task" ("id" serial primary key, "project_id" int not null, "title" varchar(255) not null, "done" boolean not null default false);`);

    this.addSql(`alter table "task" add constraint "task_project_id_foreign" foreign key ("project_id") references "project" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "task" drop constraint "task_project_id_foreign";`);

    this.addSql(`drop table if exists "project" cascade;`);
    this.addSql(`drop table if exists "task" cascade;`);
  }

}
