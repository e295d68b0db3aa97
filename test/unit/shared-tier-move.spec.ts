/**
 * Moves between the shared tier and the others (issue 17): the connection string the target's subscription uses to
 * reach the shared tier, how a write refused by the fence trigger is told from any other error, and the triggers that
 * mirror a staging schema into the shared tables.
 */
import { DriverException } from '@mikro-orm/core';
import { sharedTierConninfo } from '../../src/lifecycle/move-shared-tenant.js';
import { TenantWriteFencedException, asFencedWrite } from '../../src/isolation/schema/fenced-write.js';
import { FENCED_WRITE_MESSAGE, fenceFunctionSql } from '../../src/isolation/schema/mixed-tier-functions.js';
import { mirrorTriggerSql } from '../../src/isolation/move/shared-tier-mirror.js';
import type { MoveQuery } from '../../src/isolation/move/move-sql.js';

const driverError = (sqlState: string, message: string) => new DriverException(Object.assign(new Error(message), { code: sqlState, sqlState }));

describe('sharedTierConninfo', () => {
  it("adds the shared tier's database and the tenant setting after the server's string, so both win over it", () => {
    expect(sharedTierConninfo(`host='db1' user='mover' dbname='app'`, 'app_shared', 'nmt.tenant_id', 'acme')).toBe(
      `host='db1' user='mover' dbname='app' dbname='app_shared' options='-c nmt.tenant_id=acme'`,
    );
  });

  it('quotes what libpq would read as the end of a value or of an option', () => {
    const conninfo = sharedTierConninfo('host=h', "it's\\db", 'nmt.tenant_id', 'a b\\c');
    expect(conninfo).toBe(`host=h dbname='it\\'s\\\\db' options='-c nmt.tenant_id=a\\\\ b\\\\\\\\c'`);
  });
});

describe('asFencedWrite', () => {
  it("turns the fence trigger's error into a TenantWriteFencedException naming the tenant, keeping the message", () => {
    const converted = asFencedWrite(driverError('55000', `${FENCED_WRITE_MESSAGE} (nmt_shared.tag); retry once the move has completed`), 'acme');
    expect(converted).toBeInstanceOf(TenantWriteFencedException);
    expect(converted).toBeInstanceOf(DriverException);
    expect(converted).toMatchObject({ tenantId: 'acme', sqlState: '55000', message: expect.stringContaining('nmt_shared.tag') });
  });

  it('leaves any other error alone, another 55000 included', () => {
    for (const error of [driverError('55000', 'object not in prerequisite state'), driverError('23505', FENCED_WRITE_MESSAGE)]) expect(asFencedWrite(error, 'acme')).toBe(error);
  });

  it("raises it with the message the drivers look for (the trigger function's text)", () => {
    expect(fenceFunctionSql('tenant_acme', 'tenant_id')).toContain(`raise exception '${FENCED_WRITE_MESSAGE} (%.%)`);
  });
});

describe('mirrorTriggerSql', () => {
  // what the catalog says of the staging schema: a composite-key pivot with a quote in its name, and a plain table
  const catalog: MoveQuery = async <T>(sql: string) =>
    (sql.includes('attgenerated')
      ? [
          { t: 'tag', c: 'slug', generated: true },
          { t: 'tag', c: 'id', generated: false },
        ]
      : sql.includes('indisprimary')
      ? [
          { t: 'odd"pivot', c: 'a_id' },
          { t: 'odd"pivot', c: 'b_id' },
          { t: 'tag', c: 'id' },
        ]
      : [
          { t: 'odd"pivot', c: 'a_id' },
          { t: 'odd"pivot', c: 'b_id' },
          { t: 'odd"pivot', c: 'tenant_id' },
          { t: 'tag', c: 'id' },
          { t: 'tag', c: 'name' },
          { t: 'tag', c: 'slug' },
          { t: 'tag', c: 'tenant_id' },
        ]) as T[];
  const target = { staging: 'tenant_o', shared: 'nmt_shared', column: 'tenant_id', setting: 'nmt.tenant_id', tenantId: "o'neil" };

  it('mirrors every column by name, finds rows by the whole primary key and the tenant, and quotes names and the id', async () => {
    const sql = await mirrorTriggerSql(catalog, target, ['odd"pivot', 'tag']);
    expect(sql).toHaveLength(8);
    const [pivotFn, , pivotTrigger, pivotAlways, tagFn] = sql as string[];
    expect(pivotFn).toContain(`perform set_config('nmt.tenant_id', 'o''neil', true)`);
    expect(pivotFn).toContain(`insert into "nmt_shared"."odd""pivot" ("a_id", "b_id", "tenant_id") overriding system value values (new."a_id", new."b_id", new."tenant_id")`);
    expect(pivotFn).toContain(`where s."a_id" = old."a_id" and s."b_id" = old."b_id" and s."tenant_id" = old."tenant_id"`);
    expect(pivotTrigger).toBe(`create trigger nmt_mirror after insert or update or delete on "tenant_o"."odd""pivot" for each row execute function "tenant_o"."nmt_mirror_1"()`);
    expect(pivotAlways).toBe(`alter table "tenant_o"."odd""pivot" enable always trigger nmt_mirror`);
    // tag.slug is generated (left to the shared table), tag.id a GENERATED ALWAYS identity (copied, never updated)
    expect(tagFn).toContain(`insert into "nmt_shared"."tag" ("id", "name", "tenant_id") overriding system value values (new."id", new."name", new."tenant_id")`);
    expect(tagFn).toContain(`update "nmt_shared"."tag" s set "name" = new."name", "tenant_id" = new."tenant_id" where s."id" = old."id" and s."tenant_id" = old."tenant_id"`);
    expect(tagFn).toContain(`if tg_op <> 'DELETE' and new."tenant_id"::text is distinct from 'o''neil' then raise exception`);
  });

  it('refuses a table it cannot mirror (no primary key)', async () => {
    await expect(mirrorTriggerSql(catalog, target, ['nokey'])).rejects.toThrow(/no primary key/);
  });
});
