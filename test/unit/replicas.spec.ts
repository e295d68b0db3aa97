import { defineConfig } from '@mikro-orm/postgresql';
import { InvalidTenancyOptionsError } from '../../src/errors/options.errors.js';
import { TenantConnectionMismatchError } from '../../src/errors/isolation.errors.js';
import { resolveTenantConnection } from '../../src/isolation/database/tenant-connection.js';
import { declarationOf, normalizeOptions } from '../../src/options/options-validation.js';
import type { MikroTenancyModuleOptions } from '../../src/options/tenancy-options.js';
import { inheritDriverOptions, replicaDatabaseOf, replicaProblems } from '../../src/replicas/replica-config.js';
import { isPlainRead } from '../../src/replicas/replica-connections.js';
import { freshAsOf, parseLsn, recentSamples } from '../../src/replicas/replica-freshness.js';
import { type PrimaryRow, type ReplicaRow, replicaRefusal } from '../../src/replicas/replica-probe.js';
import { StaticTenantStore } from '../../src/tenants/static-tenant-store.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { User } from '../fixtures/entities/user.entity.js';

const forRoot = (options: MikroTenancyModuleOptions) => normalizeOptions(options, declarationOf(options));
function problemsOf(options: MikroTenancyModuleOptions): readonly string[] {
  try {
    forRoot(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTenancyOptionsError);
    return (error as InvalidTenancyOptionsError).problems;
  }
  throw new Error('expected an InvalidTenancyOptionsError');
}

describe('where a replica entry connects (as MikroORM resolves it)', () => {
  it.each([
    [{ host: 'r1' }, 'app'],
    [{ dbName: 'other' }, 'other'],
    [{ clientUrl: 'postgresql://u@r1:5432' }, 'app'], // no path: MikroORM copies the primary's dbName
    [{ clientUrl: 'postgresql://u@r1:5432/other%20db' }, 'other db'],
    [{ clientUrl: 'postgresql://u@r1:5432/' }, undefined], // an empty path: the server's default database
  ])('%j with primary database "app" -> %s', (replica, expected) => {
    expect(replicaDatabaseOf(replica, 'app')).toBe(expected);
  });
});

describe('replica options validation', () => {
  const hub = (replicas: unknown) => defineConfig({ dbName: 'hub', entities: [User], replicas: replicas as never });

  it("refuses a static context's replica in another database, naming the context and the entry", () => {
    expect(problemsOf({ contexts: { default: hub([{ host: 'r1' }, { host: 'r2', dbName: 'elsewhere' }, { clientUrl: 'postgresql://r3/' }]) } })).toEqual([
      `context 'default': replicas[1] connects to database "elsewhere", not "hub" like its primary: a read replica must serve the primary's own database. Fix its dbName or clientUrl (or leave them out to use the primary's)`,
      `context 'default': replicas[2] names no database (a clientUrl ending in '/'); leave the path out to use the primary's database`,
    ]);
  });

  it('refuses replica driverOptions that are not a plain object, and an invalid clientUrl without echoing it', () => {
    const problems = problemsOf({ contexts: { default: hub([{ host: 'r1', driverOptions: () => ({}) }, { clientUrl: 'not a url:secret' }]) } });
    expect(problems[0]).toMatch(/^context 'default': replicas\[0\]: driverOptions must be a plain object of pg options/);
    expect(problems[1]).toBe(`context 'default': replicas[1]: clientUrl is not a valid URL`);
    expect(problems.join()).not.toContain('secret');
  });

  it('refuses a database-mode template replica that names a database (every tenant would read from it)', () => {
    const problems = problemsOf({
      tenancy: { isolation: 'database', config: defineConfig({ host: 'db', entities: [Note], replicas: [{ host: 'r1', dbName: 'tenant_template' }] }), store: new StaticTenantStore(['a']) },
    });
    expect(problems).toEqual([
      `tenant context 'tenant': config: replicas[0] names a database of its own, so every tenant would read from it: leave dbName (and the clientUrl path) out, so that each tenant's replica connection uses that tenant's database, or return replicas from tenancy.database(tenant)`,
    ]);
  });

  it('validates replicaLag and applies its defaults', () => {
    const contexts = { default: hub([{ host: 'r1' }]) };
    expect(forRoot({ contexts }).replicaLag).toEqual({ maxMs: 5_000, checkEveryMs: 1_000 });
    expect(forRoot({ contexts, replicaLag: { maxMs: 300 , checkEveryMs: 50 } }).replicaLag).toEqual({ maxMs: 300, checkEveryMs: 50 });
    expect(problemsOf({ contexts, replicaLag: { maxMs: 0, checkEveryMs: 1.5 } })).toEqual([
      'replicaLag.maxMs must be a positive integer (ms)',
      'replicaLag.checkEveryMs must be a positive integer (ms)',
    ]);
    expect(problemsOf({ contexts, replicaLag: { maxMs: 1_000 } })).toEqual(['replicaLag.checkEveryMs (1000) must be below replicaLag.maxMs (1000)']);
  });
});

describe("database mode: a tenant's replicas land in the tenant's database", () => {
  const template = defineConfig({ host: 'db1', port: 5432, user: 'app', entities: [] as never[], replicas: [{ host: 'replica1' }] });

  it("gives the template's replicas the tenant's database", () => {
    const { options } = resolveTenantConnection('t1', template, { dbName: 'tenant_t1' }, []);
    expect(options.replicas?.map((replica) => replicaDatabaseOf(replica, options.dbName))).toEqual(['tenant_t1']);
  });

  it.each([
    [{ dbName: 'tenant_t1', replicas: [{ host: 'r', dbName: 'tenant_t2' }] }, 'replicas[0] connects to database "tenant_t2", not "tenant_t1"'],
    [{ dbName: 'tenant_t1', replicas: [{ clientUrl: 'postgresql://r:5432/hub' }] }, 'replicas[0] connects to database "hub", not "tenant_t1"'],
    [{ dbName: 'tenant_t1', replicas: [{ clientUrl: 'postgresql://r:5432/' }] }, 'replicas[0] names no database'],
  ])('refuses %j, naming the tenant', (overrides, problem) => {
    expect(() => resolveTenantConnection('t1', template, overrides, [])).toThrow(TenantConnectionMismatchError);
    expect(() => resolveTenantConnection('t1', template, overrides, [])).toThrow(
      `Tenant 't1' cannot be served: read replica config (tenancy.database() or tenancy.config): ${problem}`,
    );
  });

  it('replicaProblems accepts what resolves to the expected database', () => {
    expect(replicaProblems('x', [{ host: 'a' }, { dbName: 'db' }, { clientUrl: 'postgresql://u@r/db' }], 'db')).toEqual([]);
  });
});

describe("a replica's own driverOptions keep the primary's guards", () => {
  it("runs both pool hooks, keeps the primary's startup options last, and lets the replica's other keys win", () => {
    const calls: string[] = [];
    const merged = inheritDriverOptions(
      { connectionTimeoutMillis: 5000, options: '-c search_path=', onPoolCreated: () => calls.push('primary') },
      { connectionTimeoutMillis: 100, options: '-c statement_timeout=1000', onPoolCreated: () => calls.push('replica'), application_name: 'r' },
    ) as Record<string, unknown>;
    expect(merged).toMatchObject({ connectionTimeoutMillis: 100, application_name: 'r', options: '-c statement_timeout=1000 -c search_path=' });
    (merged.onPoolCreated as (pool: unknown) => void)({});
    expect(calls).toEqual(['primary', 'replica']);
  });
});

describe('replica freshness from WAL positions', () => {
  it('parses pg_lsn text', () => {
    expect(parseLsn('0/3000C30')).toBe(0x3000c30n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(() => parseLsn('nope')).toThrow('not a PostgreSQL WAL position: "nope"');
  });

  it('is fresh as of the newest primary sample the replica has replayed past', () => {
    const samples = [
      { lsn: 100n, at: 1_000 },
      { lsn: 200n, at: 2_000 },
      { lsn: 300n, at: 3_000 },
    ];
    expect(freshAsOf(samples, 300n)).toBe(3_000);
    expect(freshAsOf(samples, 250n)).toBe(2_000); // a little behind the last sample: as fresh as the one before
    expect(freshAsOf(samples, 99n)).toBeUndefined(); // behind every sample kept
  });

  it('keeps the samples of the last keepMs, and always the newest', () => {
    const samples = [
      { lsn: 1n, at: 0 },
      { lsn: 2n, at: 900 },
      { lsn: 3n, at: 1_000 },
    ];
    expect(recentSamples(samples, 1_500, 700).map((s) => s.lsn)).toEqual([2n, 3n]);
    expect(recentSamples(samples, 10_000, 700).map((s) => s.lsn)).toEqual([3n]);
  });
});

describe('which servers may serve reads for a primary', () => {
  const primary: PrimaryRow = { lsn: '0/1', db: 'app', system: '7713', started: '2026-01-01 00:00:00+00' };
  const standby: ReplicaRow = { recovery: true, replayed: '0/1', db: 'app', system: '7713', started: '2026-01-02 00:00:00+00' };

  it.each<[string, Partial<ReplicaRow>, string | undefined]>([
    ['a streaming replica of it', {}, undefined],
    ['the primary itself, reached another way', { recovery: false, started: primary.started }, undefined],
    ['another database', { db: 'other' }, 'it is connected to database "other", not "app" like the primary: check its dbName and clientUrl'],
    ['another cluster', { system: '42' }, 'it is not a replica of the primary (another PostgreSQL cluster: its system identifier differs): check its host and port'],
    ['a promoted replica', { recovery: false }, "it is not in recovery (a promoted replica, or a primary of its own), so its data may differ from the primary's"],
  ])('%s', (_label, change, refusal) => {
    expect(replicaRefusal({ ...standby, ...change }, primary)).toBe(refusal);
  });
});

describe('what counts as a write on the primary', () => {
  it.each([
    ['select 1', true],
    ['  /* note */ SELECT * from x', true],
    ['(select 1) union (select 2)', true],
    ['insert into x values (1)', false],
    ['with d as (delete from x returning *) select * from d', false],
    ['select * from x for update', false],
    ['select * into y from x', false],
    ['update x set a = 1', false],
  ])('%s -> plain read: %s', (sql, read) => {
    expect(isPlainRead(sql)).toBe(read);
  });
});
