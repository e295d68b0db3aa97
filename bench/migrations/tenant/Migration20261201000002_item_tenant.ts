import { Migration } from '@mikro-orm/migrations';

export class Migration20261201000002_item_tenant extends Migration {
  override name = 'Migration20261201000002_item_tenant';

  override up(): void {
    this.addSql(`alter table "item" add column "tenant" varchar(255) not null default '';`);
    this.addSql(`create index "item_tenant_index" on "item" ("tenant");`);
  }

  override down(): void {
    this.addSql(`drop index if exists "item_tenant_index";`);
    this.addSql(`alter table "item" drop column "tenant";`);
  }
}
