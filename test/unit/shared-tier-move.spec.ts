/**
 * Moves out of the shared tier (issue 17): the connection string the target's subscription uses to reach the
 * shared tier, and how a write refused by the fence trigger is told from any other error.
 */
import { DriverException } from '@mikro-orm/core';
import { sharedTierConninfo } from '../../src/lifecycle/move-shared-tenant.js';
import { TenantWriteFencedException, asFencedWrite } from '../../src/isolation/schema/fenced-write.js';
import { FENCED_WRITE_MESSAGE, fenceFunctionSql } from '../../src/isolation/schema/mixed-tier-functions.js';

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
