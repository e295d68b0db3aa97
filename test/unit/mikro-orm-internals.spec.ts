import { MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig as definePgConfig } from '@mikro-orm/postgresql';
import { NodeSqliteDialect, SqliteDriver } from '@mikro-orm/sql';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotPathOf } from '../../src/lifecycle/create-tenant-migration.js';
import { AnalyticsEvent } from '../fixtures/entities/analytics-event.entity.js';

/**
 * The places where the library relies on a MikroORM detail it cannot reach through a public API. A MikroORM upgrade
 * that changes one of them fails here, not in a user's app.
 */
describe('MikroORM details the library relies on', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'nmt-snapshot-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const orm = (migrations: object, dbName = ':memory:') =>
    MikroORM.init({
      driver: SqliteDriver,
      dbName,
      driverOptions: new NodeSqliteDialect(':memory:'),
      entities: [AnalyticsEvent],
      metadataProvider: ReflectMetadataProvider,
      extensions: [Migrator],
      migrations: { snapshot: true, silent: true, ...migrations },
    });

  it.each([
    ['default snapshot name, js emit', { path: 'migrations', emit: 'js' }],
    ['pathTs with ts emit', { path: 'dist/migrations', pathTs: 'src/migrations', emit: 'ts' }],
    ['explicit snapshotName', { path: 'migrations', emit: 'js', snapshotName: '.snapshot-tenant' }],
  ])('snapshotPathOf matches where the Migrator writes its snapshot (%s)', async (_label, migrations) => {
    const instance = await orm({ ...migrations, path: join(dir, (migrations as { path: string }).path), ...('pathTs' in migrations ? { pathTs: join(dir, migrations.pathTs) } : {}) }, 'app.db');
    try {
      const expected = snapshotPathOf(instance);
      expect(existsSync(expected)).toBe(false);
      await instance.migrator.create(undefined, false, true); // initial migration: writes the snapshot
      expect(existsSync(expected)).toBe(true);
      const written = readdirSync(join(expected, '..')).filter((f) => f.startsWith('.snapshot'));
      expect(written).toEqual([expected.split('/').pop()]);
    } finally {
      await instance.close();
    }
  });

  it('the tracking table name comes from migrator.getStorage().getTableName()', async () => {
    const instance = await orm({ path: join(dir, 'm'), tableName: 'custom.tenant_migrations' });
    try {
      const storage = (instance.migrator as unknown as { getStorage(): { getTableName(): { tableName: string } } }).getStorage();
      expect(storage.getTableName().tableName).toBe('tenant_migrations');
    } finally {
      await instance.close();
    }
  });

  it('initMigrator runs the lazy Migrator.init() (its ensureDatabase check) up front; up/down/getPending then check nothing more', async () => {
    // migrateTenant relies on it: that check takes a pooled connection of its own, which must happen before the
    // migration transaction holds one (a transaction-mode pooler would otherwise never give it one)
    const { initMigrator } = await import('../../src/lifecycle/migrate-tenant.js');
    const instance = await orm({ path: join(dir, 'm') });
    try {
      await instance.connect(); // MikroORM's own ensureDatabase-on-connect (the library turns it off) out of the count
      const generator = instance.schema as unknown as { ensureDatabase(...args: unknown[]): Promise<boolean> };
      const ensureDatabase = generator.ensureDatabase.bind(generator);
      let checks = 0;
      generator.ensureDatabase = (...args) => (checks++, ensureDatabase(...args));
      await initMigrator(instance);
      expect(checks).toBe(1);
      await initMigrator(instance);
      await instance.em.getConnection().transactional(async (transaction) => {
        await instance.migrator.up({ transaction });
        await instance.migrator.down({ transaction });
      });
      await instance.migrator.getPending();
      expect(checks).toBe(1);
    } finally {
      await instance.close();
    }
  });

  it("the management database is the PostgreSQL schema helper's getManagementDbName()", async () => {
    const { Configuration } = await import('@mikro-orm/core');
    const helperOf = (config: object) => new Configuration(definePgConfig({ dbName: 'app', entities: [AnalyticsEvent], ...config }), false).getPlatform().getSchemaHelper() as { getManagementDbName(): string };
    expect(helperOf({}).getManagementDbName()).toBe('postgres');
    expect(helperOf({ schemaGenerator: { managementDbName: 'admin_db' } }).getManagementDbName()).toBe('admin_db');
  });
});
