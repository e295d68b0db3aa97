/**
 * Issue 17: a tenant move run by roles that are NOT superusers, as on a managed PostgreSQL (RDS, Cloud SQL, Azure)
 * where the app never gets SUPERUSER. Both servers ask every role but the bootstrap superuser for a password
 * (scram-sha-256), as PostgreSQL requires for a subscription owned by a non-superuser. The rights are the ones
 * docs/moving-tenants.md lists, no more: on the source, a `mover` role with REPLICATION that owns the database and
 * the tenant's tables; on the target, a `mover` role in `pg_create_subscription` that owns the database.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/core';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/embedded-postgres.js';
import { moveIdFor } from '../../src/isolation/move/move-names.js';
import type { MoveSide } from '../../src/isolation/move/move-sql.js';
import { moveSchema } from '../../src/isolation/move/schema-move.js';
import { expectMovedIntact } from './support/tenant-move-expect.js';
import { MoveWriters } from './support/tenant-move-writers.js';
import { APP_DB, type MoveWorld, createTenant, moveOptions, openSide, recordSide, removeReplication, runSql, snapshotOf } from './support/tenant-move-world.js';

const TEST_MS = 120_000;
const ROLE = 'mover';
const PASSWORD = 'mover-pw';

describe('tenant move by roles without SUPERUSER (password authentication, the documented rights only)', () => {
  let clusters: EmbeddedPostgres[] = [];
  let world: MoveWorld;
  let sides: { source: MoveSide; target: MoveSide };
  const orms: MikroORM[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nmt-hba-'));
    chmodSync(dir, 0o755); // the server may run as another user (postgres, when the tests run as root)
    const hba = join(dir, 'pg_hba.conf');
    // the bootstrap superuser (test set-up) by trust; every other role with a password, replication connections too
    writeFileSync(hba, ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256', 'host replication all 127.0.0.1/32 scram-sha-256', ''].join('\n'));
    chmodSync(hba, 0o644);
    clusters = await Promise.all([0, 1].map(() => startEmbeddedPostgres({ settings: { wal_level: 'logical', hba_file: hba } })));
    const [a, b] = clusters as [EmbeddedPostgres, EmbeddedPostgres];
    await runSql(a.url, `create role ${ROLE} login replication password '${PASSWORD}'`);
    await runSql(b.url, `create role ${ROLE} login password '${PASSWORD}' in role pg_create_subscription`);
    for (const cluster of clusters) await runSql(cluster.url, `create database ${APP_DB} owner ${ROLE}`);
    const asMover = (url: string) => Object.assign(new URL(url), { username: ROLE, password: PASSWORD, pathname: `/${APP_DB}` }).toString();
    world = {
      sourceUrl: asMover(a.url),
      targetUrl: asMover(b.url),
      recordUrl: a.url, // the tenant record lives in the app's hub, not in the move's hands
      sourceConninfo: `host=127.0.0.1 port=${new URL(a.url).port} user=${ROLE} password=${PASSWORD} dbname=${APP_DB}`,
    };
    const opened = await Promise.all([world.sourceUrl, world.targetUrl].map(openSide));
    orms.push(...opened.map((o) => o.orm));
    sides = { source: opened[0]!.side, target: opened[1]!.side };
  }, TEST_MS);

  afterEach(async () => {
    if (world) await removeReplication(world);
  });

  afterAll(async () => {
    await Promise.all(orms.map((orm) => orm.close()));
    await Promise.all(clusters.map((c) => c.stop()));
  });

  it('connects as a role that is neither superuser nor able to skip the password (the test means nothing otherwise)', async () => {
    for (const url of [world.sourceUrl, world.targetUrl]) {
      expect(await runSql(url, 'select rolsuper, rolbypassrls from pg_roles where rolname = current_user')).toEqual([{ rolsuper: false, rolbypassrls: false }]);
    }
    const withoutPassword = Object.assign(new URL(world.sourceUrl), { password: '' }).toString();
    await expect(runSql(withoutPassword, 'select 1')).rejects.toThrow(/password/);
  });

  it('moves a tenant between two servers while clients write: no acknowledged write lost, verified, source gone', async () => {
    const schema = 'shop_roles';
    await createTenant(world, schema, 5_000);
    const before = await snapshotOf(world.sourceUrl, schema);
    const writers = new MoveWriters(world, schema, 3);
    await sleep(200);
    const options = moveOptions(world, schema, moveIdFor(schema, 'target'), sides);
    const report = await moveSchema(options).finally(() => sleep(200).then(() => writers.stop()));

    expect(report).toMatchObject({ startedAt: 'new', tables: 4 });
    expect(await recordSide(world, schema)).toBe('target');
    await expectMovedIntact(world, schema, moveIdFor(schema, 'target'), writers, before);
  }, TEST_MS);
});
