import { Configuration, type MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import type { ContextConfig } from '../options/tenancy-options.js';
import { openConnectedOrm } from './open-orm.js';

/**
 * Runs `fn` on the server of `options`, connected to its management database (MikroORM's
 * `schemaGenerator.managementDbName`, default `postgres`) with a short-lived single connection: where
 * `create database` / `drop database` run.
 */
export async function onManagementDatabase<R>(options: ContextConfig, logger: Logger, label: string, fn: (orm: MikroORM) => Promise<R>): Promise<R> {
  const managementDb = managementDbNameOf(options);
  const contextName = `${options.contextName ?? 'context'}:admin`;
  const orm = await openConnectedOrm({ ...options, dbName: managementDb, pool: { min: 0, max: 1 }, contextName, ensureDatabase: false }, logger, label);
  try {
    return await fn(orm);
  } finally {
    await orm.close();
  }
}

/** Creates `dbName` on the server of `options` when it does not exist; true when it was created. */
export function createDatabaseIfMissing(options: ContextConfig, dbName: string, logger: Logger, label: string): Promise<boolean> {
  return onManagementDatabase(options, logger, label, async (orm) => {
    const connection = orm.em.getConnection();
    if ((await connection.execute('select 1 from pg_database where datname = ?', [dbName])).length) return false;
    await connection.execute(`create database ${orm.em.getPlatform().quoteIdentifier(dbName)}`);
    return true;
  });
}

/** MikroORM's own choice of management database for this config (`schemaGenerator.managementDbName`, default postgres). */
function managementDbNameOf(options: ContextConfig): string {
  const helper = new Configuration(options, false).getPlatform().getSchemaHelper() as { getManagementDbName?(): string } | undefined;
  return helper?.getManagementDbName?.() ?? 'postgres';
}
