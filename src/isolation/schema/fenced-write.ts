import { DriverException, type IDatabaseDriver } from '@mikro-orm/core';
import type { ContextConfig } from '../../options/tenancy-options.js';
import { sqlStateOf } from '../../errors/sql-state.js';
import { FENCED_WRITE_MESSAGE } from './mixed-tier-functions.js';

/**
 * Mixed tiers: a write of a tenant whose rows are moving between tiers, refused by the tables' fence trigger
 * (mixed-tier-functions.ts) because this app instance had not heard of the move (the mover holds the tenant's work
 * on every instance that did). Nothing was written; answered 503 over HTTP (TenantMovingError). Still a
 * DriverException with the driver's message, so code that catches MikroORM's exceptions keeps working.
 */
export class TenantWriteFencedException extends DriverException {
  constructor(original: DriverException, readonly tenantId: string | undefined) {
    super(Object.assign(new Error(original.message), { code: original.code, sqlState: original.sqlState }));
    this.name = 'TenantWriteFencedException';
    this.cause = original;
  }
}

/** The fence trigger's error (SQLSTATE 55000 with its message) as a TenantWriteFencedException; any other unchanged. */
export function asFencedWrite(converted: DriverException, tenantId: string | undefined): DriverException {
  if (sqlStateOf(converted) !== '55000' || !converted.message.includes(FENCED_WRITE_MESSAGE)) return converted;
  return new TenantWriteFencedException(converted, tenantId);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DriverClass = new (...args: any[]) => IDatabaseDriver;

/** The shared tier's driver: the template's, with the fence trigger's error converted (see tenant-schema-driver.ts for the other tiers). */
export function fencedWriteDriverClass(template: ContextConfig, currentTenantId: () => string | undefined): ContextConfig['driver'] {
  const Base = template.driver as unknown as DriverClass;
  class SharedTierDriver extends Base {
    override convertException(exception: Error): DriverException {
      return asFencedWrite(super.convertException(exception), currentTenantId());
    }
  }
  return SharedTierDriver as unknown as ContextConfig['driver'];
}
