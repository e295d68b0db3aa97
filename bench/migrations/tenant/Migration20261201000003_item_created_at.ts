import { Migration } from '@mikro-orm/migrations';

export class Migration20261201000003_item_created_at extends Migration {
  override name = 'Migration20261201000003_item_created_at';

  override up(): void {
    this.addSql(`alter table "item" add column "created_at" timestamptz not null default now();`);
  }

  override down(): void {
    this.addSql(`alter table "item" drop column "created_at";`);
  }
}
