import { Migration } from '@mikro-orm/migrations';

export class Migration20261202140921_dropped_tenant_policy extends Migration {

  override name = 'Migration20261202140921_dropped_tenant_policy';

  override up(): void | Promise<void> {
    this.addSql(`alter table "nmt_dropped_tenant" enable row level security;`);
    this.addSql(`alter table "nmt_dropped_tenant" force row level security;`);
    this.addSql(`create policy "nmt_dropped_tenant_tenant_isolation" on "nmt_dropped_tenant" using ("tenant_id" = (nullif(current_setting('nmt.tenant_id', true), ''))::text) with check ("tenant_id" = (nullif(current_setting('nmt.tenant_id', true), ''))::text);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop policy "nmt_dropped_tenant_tenant_isolation" on "nmt_dropped_tenant";`);

    this.addSql(`alter table "nmt_dropped_tenant" no force row level security;`);
    this.addSql(`alter table "nmt_dropped_tenant" disable row level security;`);
  }

}
