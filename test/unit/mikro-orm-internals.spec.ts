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

/**
 * Read replicas (src/replicas/): the routing driver overrides `getConnection(type)` and wraps the `execute`, `stream`,
 * `begin` and `getClient` methods of the connection objects the driver made (`driver.connection`, `driver.replicas`,
 * the latter made by `createReplicas`). These cases pin, on SQLite (a primary and a replica on one file), that every
 * query path still goes through them.
 */
describe('MikroORM details the read-replica routing relies on', () => {
  type Call = { on: 'primary' | 'replica'; method: string; kind?: string; inTransaction?: boolean; sql?: string };
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'nmt-replicas-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** An ORM whose driver records which connection object ran what, and can send reads to the primary instead. */
  async function recordingOrm(options: { readsToPrimary?: boolean } = {}) {
    const file = join(mkdtempSync(join(dir, 'orm-')), 'app.db');
    const calls: Call[] = [];
    const made: { name?: string }[] = [];
    class RecordingDriver extends SqliteDriver {
      override createReplicas(make: Parameters<SqliteDriver['createReplicas']>[0]) {
        return super.createReplicas((conf) => {
          made.push(conf);
          return make(conf);
        });
      }
      override getConnection(type: 'read' | 'write' = 'write') {
        if (type === 'read' && options.readsToPrimary) return this.connection;
        return super.getConnection(type);
      }
    }
    const instance = await MikroORM.init({
      driver: RecordingDriver,
      dbName: file,
      // a factory: MikroORM deep-copies a replica connection's options, which breaks a dialect instance
      driverOptions: (() => new NodeSqliteDialect(file)) as never,
      replicas: [{ name: 'replica' }],
      entities: [AnalyticsEvent],
      metadataProvider: ReflectMetadataProvider,
    });
    await instance.schema.create();
    const driver = instance.em.getDriver() as unknown as { connection: Record<string, unknown>; replicas: Record<string, unknown>[] };
    const record = (connection: Record<string, unknown>, on: Call['on']) => {
      for (const method of ['execute', 'stream', 'begin', 'getClient']) {
        const original = (connection[method] as (...args: unknown[]) => unknown).bind(connection);
        connection[method] = (...args: unknown[]) => {
          const call: Call = { on, method };
          if (method === 'execute') Object.assign(call, { sql: String(args[0]), kind: args[2] ?? 'all', inTransaction: args[3] !== undefined });
          calls.push(call);
          return original(...args);
        };
      }
    };
    record(driver.connection, 'primary');
    record(driver.replicas[0] as Record<string, unknown>, 'replica');
    return { instance, calls, made, driver };
  }

  it('createReplicas makes driver.replicas from the replicas option, one per entry, in order', async () => {
    const { instance, made, driver } = await recordingOrm();
    try {
      expect(made.map((conf) => conf.name)).toEqual(['replica']);
      expect(driver.replicas).toHaveLength(1);
    } finally {
      await instance.close();
    }
  });

  it("every read path runs on the connection getConnection('read') returns, through its execute or stream", async () => {
    for (const readsToPrimary of [false, true]) {
      const { instance, calls } = await recordingOrm({ readsToPrimary });
      const expected = readsToPrimary ? 'primary' : 'replica';
      try {
        await instance.em.fork().insert(AnalyticsEvent, { name: 'a', subject: 's' });
        calls.length = 0;
        const em = instance.em.fork();
        await em.find(AnalyticsEvent, {});
        await em.findOne(AnalyticsEvent, { name: 'a' }, { refresh: true });
        await em.count(AnalyticsEvent, {});
        await em.createQueryBuilder(AnalyticsEvent).select('*').execute();
        await em.execute('select 1 as one', [], 'all', undefined);
        await em.execute('select 1 as one', [], { connectionType: 'read' } as never);
        // (em.stream goes through connection.stream: node:sqlite cannot stream, test/e2e/replicas.e2e-spec.ts covers it)
        const reads = calls.filter((c) => c.method === 'execute' || c.method === 'stream');
        // em.execute() without a connectionType is MikroORM's only read that defaults to the primary
        expect(reads.map((c) => c.on)).toEqual([expected, expected, expected, expected, 'primary', expected]);
      } finally {
        await instance.close();
      }
    }
  });

  it("writes run on driver.connection: 'run' for native writes, a begun transaction for flush and transactional", async () => {
    const { instance, calls } = await recordingOrm();
    try {
      const em = instance.em.fork();
      await em.insert(AnalyticsEvent, { name: 'a', subject: 's' });
      await em.nativeUpdate(AnalyticsEvent, { name: 'a' }, { subject: 't' });
      await em.nativeDelete(AnalyticsEvent, { name: 'zzz' });
      expect(calls.map((c) => [c.on, c.method, c.kind])).toEqual([
        ['primary', 'execute', 'run'],
        ['primary', 'execute', 'run'],
        ['primary', 'execute', 'run'],
      ]);
      calls.length = 0;
      em.create(AnalyticsEvent, { name: 'b', subject: 's' });
      await em.flush();
      await em.transactional((tx) => tx.count(AnalyticsEvent, {}));
      expect(calls.filter((c) => c.method === 'begin').map((c) => c.on)).toEqual(['primary', 'primary']);
      expect(calls.filter((c) => c.method === 'execute').every((c) => c.on === 'primary' && c.inTransaction)).toBe(true);
      calls.length = 0;
      em.getKysely();
      expect(calls).toEqual([{ on: 'primary', method: 'getClient' }]);
    } finally {
      await instance.close();
    }
  });
});
