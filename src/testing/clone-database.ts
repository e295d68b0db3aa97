import type { Logger } from '@nestjs/common';
import { onManagementDatabase } from '../isolation/management-database.js';
import type { ContextConfig } from '../options/tenancy-options.js';

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * `create database ... template`: PostgreSQL copies the template tenant's database file by file (schema, rows,
 * migrations table), then the copy gets its owner mark. The template must have no open session: PostgreSQL waits up
 * to 5 s for sessions that are closing (the template is never served, only migrated).
 */
export async function cloneDatabase(config: ContextConfig, from: string, to: string, mark: string, logger: Logger): Promise<void> {
  await onManagementDatabase(config, logger, `cloning the template database "${from}"`, async (orm) => {
    const connection = orm.em.getConnection();
    await connection.execute(`create database ${quote(to)} template ${quote(from)}`);
    await connection.execute(`comment on database ${quote(to)} is ${orm.em.getPlatform().quoteValue(mark)}`);
  });
}
