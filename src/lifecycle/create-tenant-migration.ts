import { MikroORM } from '@mikro-orm/core';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ContextConfig } from '../options/tenancy-options.js';
import { tenantOrmOptions } from '../isolation/tenant-isolation.js';
import { MigrationSetupError } from '../errors/lifecycle.errors.js';

export interface CreateMigrationOptions {
  /** File/class name suffix (MikroORM's `migration:create --name`). */
  name?: string;
  /** An empty migration to fill by hand. */
  blank?: boolean;
}

export interface CreatedMigration {
  /** Empty when there was nothing to change. */
  fileName: string;
  code: string;
}

/** An empty schema snapshot: what "no tenant tables yet" looks like to MikroORM's migration diff. */
const EMPTY_SNAPSHOT = { namespaces: [], tables: [], nativeEnums: {} };

/**
 * Generates the tenant context's next migration from the entity diff against its snapshot file, never against a
 * database: the tenant tables must stay unqualified so one migration applies to every tenant schema or database.
 * The first time (no migration, no snapshot) the diff starts from an empty snapshot, which yields the full
 * `create table` set. Needs `migrations.path` in the tenant config (a folder of its own).
 */
export async function createTenantMigration(
  contextName: string,
  template: ContextConfig,
  options: CreateMigrationOptions,
  /** Called right after the generator ORM is initialised (schema mode gives the entity prototypes back). */
  afterInit: () => void = () => undefined,
): Promise<CreatedMigration> {
  const migrations = { ...template.migrations, snapshot: true, snapshotOnMigrate: false, silent: true };
  if (!migrations.path && !migrations.pathTs) {
    throw new MigrationSetupError(
      `Context '${contextName}' has no migrations.path: tenant migrations need a folder of their own, e.g. ` +
        `migrations: { path: 'dist/migrations/tenant', pathTs: 'src/migrations/tenant' } in tenancy.config.`,
    );
  }
  // database mode templates may leave dbName to tenancy.database(); the generator never connects anyway
  const dbName = template.dbName ?? (template.clientUrl ? undefined : contextName);
  const orm = await MikroORM.init(tenantOrmOptions(template, `${contextName}:generator`, { migrations, ...(dbName ? { dbName } : {}) }));
  afterInit();
  try {
    ensureSnapshot(contextName, orm);
    const result = await orm.migrator.create(undefined, options.blank ?? false, false, options.name);
    return { fileName: result.fileName, code: result.code };
  } finally {
    await orm.close();
  }
}

/**
 * Where MikroORM's Migrator keeps the snapshot. Its own `getSnapshotPath()` is private, so its rule is copied here:
 * test/unit/snapshot-path.spec.ts lets MikroORM write a snapshot and fails if this path differs.
 */
export function snapshotPathOf(orm: MikroORM): string {
  const options = orm.config.get('migrations');
  const folder = (options.emit ?? 'ts') === 'ts' && options.pathTs ? options.pathTs : (options.path as string);
  const baseDir = orm.config.get('baseDir');
  const directory = isAbsolute(folder) ? folder : resolve(baseDir, folder);
  const dbName = (orm.config.get('dbName') ?? '').replace(/\\/g, '/').split('/').pop()?.replace(/:/g, '');
  return join(directory, `${options.snapshotName ?? `.snapshot-${dbName}`}.json`);
}

/** Seeds the snapshot empty when nothing was generated yet (the first migration then creates every table). */
function ensureSnapshot(contextName: string, orm: MikroORM): void {
  const snapshot = snapshotPathOf(orm);
  const directory = dirname(snapshot);
  if (existsSync(snapshot)) return;
  mkdirSync(directory, { recursive: true });
  const existing = readdirSync(directory).filter((file) => /\.(ts|js|cjs|mjs)$/.test(file) && !file.endsWith('.d.ts'));
  if (existing.length) {
    throw new MigrationSetupError(
      `Context '${contextName}' has migrations in ${directory} but no snapshot (${snapshot}). Tenant migrations are ` +
        `generated from the snapshot, never from a database; restore it from version control (or regenerate the set).`,
    );
  }
  writeFileSync(snapshot, JSON.stringify(EMPTY_SNAPSHOT, null, 2));
}
