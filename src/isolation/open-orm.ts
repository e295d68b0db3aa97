import { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { ContextConfig } from '../options/tenancy-options.js';

/**
 * `MikroORM.init` does not connect; this does, and checks the connection, so a missing database or bad credentials
 * fail here rather than on first query. A half-opened ORM is closed (a failing close is logged).
 */
export async function openConnectedOrm(options: ContextConfig, logger: Logger, label: string): Promise<MikroORM> {
  const orm = await MikroORM.init(options);
  try {
    await orm.connect();
    const check = await orm.checkConnection();
    if (!check.ok) throw check.error ?? new Error(check.reason);
    return orm;
  } catch (error) {
    await orm.close().catch((closeError: unknown) => logger.warn(`Closing ${label} after a failed open: ${String(closeError)}`));
    throw error;
  }
}
