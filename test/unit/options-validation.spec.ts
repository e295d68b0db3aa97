import { defineConfig } from '@mikro-orm/postgresql';
import { InvalidTenancyOptionsError } from '../../src/errors/options.errors.js';
import { InvalidTenantIdError } from '../../src/errors/tenant.errors.js';
import { declarationOf, normalizeOptions } from '../../src/options/options-validation.js';
import type {
  ContextConfig,
  MikroTenancyAsyncDeclaration,
  MikroTenancyModuleOptions,
  TenancyOptions,
} from '../../src/options/tenancy-options.js';
import { TenantResolvers } from '../../src/resolution/tenant-resolvers.js';
import { StaticTenantStore } from '../../src/tenants/static-tenant-store.js';
import { TableTenantStore } from '../../src/tenants/table-tenant-store.js';
import { Tenant } from '../fixtures/entities/tenant.entity.js';
import { AnalyticsEvent } from '../fixtures/entities/analytics-event.entity.js';
import { Note } from '../fixtures/entities/note.entity.js';
import { User } from '../fixtures/entities/user.entity.js';

const userConfig = () => defineConfig({ dbName: 'x', entities: [User] });
const noteConfig = () => defineConfig({ dbName: 'x', entities: [Note] });
const tenancy = (extra: Partial<TenancyOptions> = {}): TenancyOptions => ({
  isolation: 'schema',
  config: noteConfig(),
  store: new StaticTenantStore(['acme']),
  ...extra,
});

/** normalizeOptions as forRoot calls it: the declaration derived from the options themselves. */
const forRoot = (options: MikroTenancyModuleOptions) => normalizeOptions(options, declarationOf(options));

/** The InvalidTenancyOptionsError thrown by `fn` (fails the test when nothing is thrown). */
function optionsError(fn: () => unknown): InvalidTenancyOptionsError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTenancyOptionsError);
    return error as InvalidTenancyOptionsError;
  }
  throw new Error('expected an InvalidTenancyOptionsError, but nothing was thrown');
}

describe('normalizeOptions: every problem at once', () => {
  it('lists every problem of the static contexts and of tenancy, each naming its context', () => {
    const error = optionsError(() =>
      forRoot({
        contexts: {
          default: { dbName: 'x', entities: [User] } as ContextConfig, // no driver
          analytics: defineConfig({ entities: [AnalyticsEvent] }), // no dbName / clientUrl
          reports: defineConfig({ dbName: 'x' }), // no entities
          tenant: noteConfig(), // clashes with the tenant context's default name
        },
        tenancy: tenancy({ store: undefined as never }),
      }),
    );
    expect(error.name).toBe('InvalidTenancyOptionsError');
    expect(error.message).toBe(
      [
        'Invalid MikroTenancyModule options:',
        "  - context 'default': no driver; use defineConfig from your driver package (e.g. @mikro-orm/postgresql) or set 'driver'",
        "  - context 'analytics': no connection settings; set 'dbName' or 'clientUrl'",
        "  - context 'reports': no entities; list them in 'entities'",
        "  - context 'tenant' is registered twice: as a static context and as the tenant context (tenancy.contextName)",
        "  - tenant context 'tenant': no tenant store; set 'store' (e.g. TenantStores.static([...]) or TenantStores.table(Tenant))",
      ].join('\n'),
    );
    expect(error.problems).toHaveLength(5);
  });

  it('detects a clash with a custom tenancy.contextName', () => {
    const error = optionsError(() =>
      forRoot({ contexts: { default: userConfig(), shop: noteConfig() }, tenancy: tenancy({ contextName: 'shop' }) }),
    );
    expect(error.problems).toEqual([
      "context 'shop' is registered twice: as a static context and as the tenant context (tenancy.contextName)",
    ]);
  });

  it('lists every problem of the tenancy options', () => {
    const error = optionsError(() =>
      forRoot({
        tenancy: {
          contextName: '9shop',
          isolation: 'rows' as never,
          config: undefined as never,
          store: { find: 'nope' } as never,
          pool: { maxOpenTenants: 0, idleTimeoutMs: -1, acquireTimeoutMs: 1.5, connectionsPerTenant: 0 },
          injection: 'singleton' as never,
          resolve: [],
        },
      }),
    );
    const label = "tenant context '9shop'";
    expect(error.problems).toEqual([
      `${label}: a context name must start with a letter and use letters, digits, '_' or '-'`,
      `${label}: isolation must be 'schema', 'database' or 'table'`,
      `${label}: no tenant store; set 'store' (e.g. TenantStores.static([...]) or TenantStores.table(Tenant))`,
      `${label}: no 'config' (the template configuration for every tenant)`,
      `${label}: pool.maxOpenTenants must be a positive integer`,
      `${label}: pool.idleTimeoutMs must be a positive integer`,
      `${label}: pool.acquireTimeoutMs must be a positive integer`,
      `${label}: pool.connectionsPerTenant must be a positive integer`,
      `${label}: injection must be 'context' or 'request'`,
      `${label}: 'resolve' is empty; give at least one resolver or leave it out for the x-tenant-id header`,
    ]);
    expect(error.message.split('\n')).toHaveLength(1 + error.problems.length);
  });

  it('checks the tenant template config; schema mode needs connection settings, database mode does not', () => {
    const bare = { entities: [] } as ContextConfig;
    expect(optionsError(() => forRoot({ tenancy: tenancy({ config: bare }) })).problems).toEqual([
      "tenant context 'tenant': no driver in 'config'; use defineConfig from your driver package",
      "tenant context 'tenant': no entities in 'config'",
      "tenant context 'tenant': no connection settings in 'config'; set 'dbName' or 'clientUrl'",
    ]);
    const noDbName = defineConfig({ entities: [Note] });
    expect(optionsError(() => forRoot({ tenancy: tenancy({ config: noDbName }) })).problems).toEqual([
      "tenant context 'tenant': no connection settings in 'config'; set 'dbName' or 'clientUrl'",
    ]);
    expect(() => forRoot({ tenancy: tenancy({ isolation: 'database', config: noDbName }) })).not.toThrow();
  });

  it('checks sharedTier: schema isolation only, the tenant column as sharedTables, a database of its own', () => {
    expect(optionsError(() => forRoot({ tenancy: tenancy({ isolation: 'table', sharedTier: {} }) })).problems).toEqual([
      "tenant context 'tenant': sharedTier applies to isolation 'schema' only (isolation 'table' shares every tenant's tables already)",
    ]);
    const tenantDb = noteConfig().dbName as string;
    const bad = { column: 'Tenant Id', setting: 'tenant', rowLevelSecurity: false, dbName: tenantDb } as never;
    expect(optionsError(() => forRoot({ tenancy: tenancy({ sharedTier: bad }) })).problems).toEqual([
      "tenant context 'tenant': sharedTier.column must be a lower-case column name (letters, digits, '_'; at most 63)",
      "tenant context 'tenant': sharedTier.setting must be a dotted lower-case name such as 'app.tenant_id'",
      "tenant context 'tenant': sharedTier takes no rowLevelSecurity: the shared tier's row-level security is always on",
      `tenant context 'tenant': sharedTier.dbName must not be the tenant database ('${tenantDb}'): give the shared tables a database of their own, e.g. '${tenantDb}_shared'`,
    ]);
    expect(optionsError(() => forRoot({ tenancy: tenancy({ sharedTier: { dbName: 'x"; drop database y' } }) })).problems).toEqual([
      "tenant context 'tenant': sharedTier.dbName must be a database name (letters, digits, '_', '$' or '-'; at most 63)",
    ]);
    const normalized = forRoot({ tenancy: tenancy({ sharedTier: { type: 'uuid' } }) }).tenancy!;
    expect(normalized.sharedTier).toEqual({
      shared: { column: 'tenant_id', property: 'tenantId', type: 'uuid', rowLevelSecurity: true, setting: 'nmt.tenant_id', uniques: 'per-tenant', bypassingRole: 'refuse' },
      dbName: undefined,
    });
    // no tenant may derive the shared tier's schema
    expect(normalized.reservedSchemas).toContain('nmt_shared');
  });

  it('checks sharedTables: only with table isolation, and every name it puts in SQL is a plain identifier', () => {
    expect(optionsError(() => forRoot({ tenancy: tenancy({ sharedTables: {} }) })).problems).toEqual([
      "tenant context 'tenant': sharedTables applies to isolation 'table' only",
    ]);
    const bad = { column: 'Tenant Id', property: '1x', type: 'text[]', setting: "x'); drop table t; --", uniques: 'global', bypassingRole: 'ignore' } as never;
    expect(optionsError(() => forRoot({ tenancy: tenancy({ isolation: 'table', sharedTables: bad }) })).problems).toEqual([
      "tenant context 'tenant': sharedTables.column must be a lower-case column name (letters, digits, '_'; at most 63)",
      "tenant context 'tenant': sharedTables.property must be a property name",
      "tenant context 'tenant': sharedTables.type must be 'text', 'uuid', 'int' or 'bigint'",
      "tenant context 'tenant': sharedTables.setting must be a dotted lower-case name such as 'app.tenant_id'",
      "tenant context 'tenant': sharedTables.uniques must be 'per-tenant' or 'as-declared'",
      "tenant context 'tenant': sharedTables.bypassingRole must be 'refuse' or 'warn'",
    ]);
    // a setting without a prefix is refused by PostgreSQL itself ("unrecognized configuration parameter")
    expect(optionsError(() => forRoot({ tenancy: tenancy({ isolation: 'table', sharedTables: { setting: 'tenant' } }) })).problems).toHaveLength(1);
    const normalized = forRoot({ tenancy: tenancy({ isolation: 'table' }) }).tenancy!;
    expect(normalized.sharedTables).toEqual({ column: 'tenant_id', property: 'tenantId', type: 'text', rowLevelSecurity: true, setting: 'nmt.tenant_id', uniques: 'per-tenant', bypassingRole: 'refuse' });
  });

  it('accepts 0 for idleTimeoutMs and acquireTimeoutMs only', () => {
    expect(() => forRoot({ tenancy: tenancy({ pool: { idleTimeoutMs: 0, acquireTimeoutMs: 0 } }) })).not.toThrow();
    expect(optionsError(() => forRoot({ tenancy: tenancy({ pool: { maxOpenTenants: 0 } }) })).problems).toEqual([
      "tenant context 'tenant': pool.maxOpenTenants must be a positive integer",
    ]);
  });

  it('rejects options with no context and no tenancy', () => {
    expect(optionsError(() => forRoot({})).message).toBe(
      'Invalid MikroTenancyModule options:\n' +
        "  - no contexts: give at least one in { contexts: { default: defineConfig({...}) } } or configure { tenancy }",
    );
    expect(optionsError(() => forRoot({ contexts: {} })).problems).toHaveLength(1);
  });

  it('rejects a missing configuration and an invalid context name', () => {
    const error = optionsError(() => forRoot({ contexts: { default: undefined as never, 'my db': userConfig() } }));
    expect(error.problems).toEqual([
      "context 'default': no configuration (expected the result of defineConfig({...}))",
      "context 'my db': a context name must start with a letter and use letters, digits, '_' or '-'",
    ]);
  });

  it('accepts entitiesTs in place of entities', () => {
    expect(() => forRoot({ contexts: { default: defineConfig({ dbName: 'x', entitiesTs: [User] }) } })).not.toThrow();
  });
});

describe('normalizeOptions: forRootAsync declarations', () => {
  it('lists every mismatch between the declaration and what the factory returned', () => {
    const declared: MikroTenancyAsyncDeclaration = { contexts: ['default', 'analytics', 'default'] };
    const error = optionsError(() =>
      normalizeOptions({ contexts: { default: userConfig(), reports: userConfig() }, tenancy: tenancy() }, declared),
    );
    expect(error.message).toBe(
      [
        'Invalid MikroTenancyModule options:',
        "  - context 'default' is declared more than once in forRootAsync({ contexts })",
        "  - context 'analytics' is declared in forRootAsync({ contexts }) but the factory returned no config for it",
        "  - context 'reports' was returned by the factory but is not declared in forRootAsync({ contexts })",
        "  - the factory returned 'tenancy' but forRootAsync was not given { tenancy: {} }: declare it so its tokens exist",
      ].join('\n'),
    );
  });

  it('rejects a declared tenancy the factory did not return', () => {
    const error = optionsError(() => normalizeOptions({ contexts: { default: userConfig() } }, { contexts: ['default'], tenancy: {} }));
    expect(error.problems).toEqual(["forRootAsync declares { tenancy } but the factory returned no 'tenancy' options"]);
  });

  it('rejects a declared isolation the factory did not return', () => {
    const error = optionsError(() =>
      normalizeOptions({ contexts: { default: userConfig() }, tenancy: tenancy() }, { contexts: ['default'], tenancy: { isolation: 'database' } }),
    );
    expect(error.problems).toEqual(["tenant context 'tenant': forRootAsync declares isolation 'database' but the factory returned 'schema'"]);
  });

  it('accepts a factory result that matches its declaration', () => {
    const normalized = normalizeOptions(
      { contexts: { default: userConfig(), analytics: userConfig() }, tenancy: tenancy() },
      { contexts: ['analytics', 'default'], tenancy: {} },
    );
    expect([...normalized.contexts.keys()]).toEqual(['default', 'analytics']);
    expect(normalized.tenancy?.contextName).toBe('tenant');
  });
});

describe('declarationOf', () => {
  it('derives context names, tenancy and routes from forRoot options', () => {
    expect(
      declarationOf({
        contexts: { default: userConfig(), analytics: userConfig() },
        tenancy: tenancy({ contextName: 'shop', injection: 'request' }),
        forRoutes: ['api/{*rest}'],
      }),
    ).toEqual({ contexts: ['default', 'analytics'], tenancy: { contextName: 'shop', injection: 'request', isolation: 'schema' }, forRoutes: ['api/{*rest}'] });
  });

  it('declares no tenancy and no contexts when there are none', () => {
    const declared = declarationOf({});
    expect(declared.contexts).toEqual([]);
    expect(declared.tenancy).toBeUndefined();
    expect(declared.forRoutes).toBeUndefined();
  });
});

describe('normalizeOptions: defaults', () => {
  it('fills in every tenancy default', () => {
    const normalized = forRoot({ contexts: { default: userConfig() }, tenancy: tenancy() });
    expect(normalized.forRoutes).toEqual(['{*all}']);
    const t = normalized.tenancy!;
    expect(t.contextName).toBe('tenant');
    expect(t.isolation).toBe('schema');
    expect(t.injection).toBe('context');
    expect(t.cacheTtlMs).toBe(5_000);
    expect(t.pool).toEqual({ maxOpenTenants: 50, idleTimeoutMs: 300_000, acquireTimeoutMs: 5_000, connectionsPerTenant: 5 });
    expect(t.resolvers).toHaveLength(1);
    expect(t.resolvers[0]!.describe).toBe(TenantResolvers.header().describe);
    expect(t.resolvers[0]!.resolve({ headers: { 'x-tenant-id': 'acme' } })).toBe('acme');
    expect(t.schemaName({ id: 'acme' })).toBe('tenant_acme');
    expect(t.database({ id: 'acme' })).toEqual({ dbName: 'tenant_acme' });
    expect(() => t.ids.validate('acme')).not.toThrow();
    expect(() => t.ids.validate('Acme')).toThrow(InvalidTenantIdError);
  });

  it('takes connectionsPerTenant from the template pool.max', () => {
    const config = defineConfig({ dbName: 'x', entities: [Note], pool: { max: 7 } });
    expect(forRoot({ tenancy: tenancy({ config }) }).tenancy!.pool.connectionsPerTenant).toBe(7);
    const explicit = tenancy({ config, pool: { connectionsPerTenant: 2 } });
    expect(forRoot({ tenancy: explicit }).tenancy!.pool.connectionsPerTenant).toBe(2);
  });

  it('keeps given values', () => {
    const resolvers = [TenantResolvers.path(), TenantResolvers.query()];
    const schemaName = (t: { id: string }) => `s_${t.id}`;
    const normalized = forRoot({
      tenancy: tenancy({
        contextName: 'shop',
        injection: 'request',
        cacheTtlMs: 0,
        resolve: resolvers,
        schemaName,
        pool: { maxOpenTenants: 3, idleTimeoutMs: 100, acquireTimeoutMs: 200 },
      }),
      forRoutes: ['api/{*rest}'],
    });
    const t = normalized.tenancy!;
    expect(normalized.forRoutes).toEqual(['api/{*rest}']);
    expect(t.contextName).toBe('shop');
    expect(t.injection).toBe('request');
    expect(t.cacheTtlMs).toBe(0);
    expect(t.resolvers).toBe(resolvers);
    expect(t.schemaName({ id: 'acme' })).toBe('s_acme');
    expect(t.pool).toEqual({ maxOpenTenants: 3, idleTimeoutMs: 100, acquireTimeoutMs: 200, connectionsPerTenant: 5 });
  });

  it('reserves the schemas of static contexts and the custom reserved ids as tenant ids', () => {
    const normalized = forRoot({
      contexts: { default: defineConfig({ dbName: 'x', entities: [User], schema: 'hub' }) },
      tenancy: tenancy({ ids: { reserved: ['admin'] } }),
    });
    const ids = normalized.tenancy!.ids;
    expect(() => ids.validate('hub')).toThrow("Invalid tenant id: 'hub' is a reserved name.");
    expect(() => ids.validate('admin')).toThrow("Invalid tenant id: 'admin' is a reserved name.");
    expect(() => ids.validate('acme')).not.toThrow();
  });

  it('has no tenancy when none is configured', () => {
    const normalized = forRoot({ contexts: { default: userConfig() } });
    expect(normalized.tenancy).toBeUndefined();
    expect(normalized.contexts.get('default')).toEqual(userConfig());
  });
});

describe('normalizeOptions: tenant changes shared between app instances', () => {
  const tableStore = () => new TableTenantStore(Tenant, { context: 'hub' });

  it('is on by default for a table store, through its context, and off for a store that names none', () => {
    const withTable = forRoot({ contexts: { hub: userConfig() }, tenancy: tenancy({ store: tableStore() }) });
    expect(withTable.tenancy!.changes).toEqual({ context: 'hub', channel: 'nestjs_mikro_tenancy', listen: undefined, explicit: false });
    expect(forRoot({ tenancy: tenancy() }).tenancy!.changes).toBeUndefined();
    expect(forRoot({ contexts: { hub: userConfig() }, tenancy: tenancy({ store: tableStore(), changes: false }) }).tenancy!.changes).toBeUndefined();
  });

  it('keeps an explicit context, channel and listening connection', () => {
    const changes = { context: 'hub', channel: 'tenants_v2', listen: { port: 5432 } };
    expect(forRoot({ contexts: { hub: userConfig() }, tenancy: tenancy({ changes }) }).tenancy!.changes).toEqual({ ...changes, explicit: true });
  });

  it('refuses a channel that is not a plain identifier, and changes without a context to carry them', () => {
    const error = optionsError(() => forRoot({ contexts: { hub: userConfig() }, tenancy: tenancy({ changes: { context: 'hub', channel: 'x"; drop table tenant; --' } }) }));
    expect(error.problems).toEqual(["tenant context 'tenant': changes.channel must be letters, digits or '_' (at most 63, not starting with a digit)"]);
    const noContext = optionsError(() => forRoot({ tenancy: tenancy({ changes: {} }) }));
    expect(noContext.problems).toEqual([
      "tenant context 'tenant': changes needs a context (changes.context: the static context whose PostgreSQL database carries the notifications)",
    ]);
  });
});

describe('normalizeOptions: tenant-affine connection groups', () => {
  it('is off by default, and keeps the groups asked for in schema isolation', () => {
    expect(forRoot({ tenancy: tenancy() }).tenancy!.connectionGroups).toBe(1);
    const config = defineConfig({ dbName: 'x', entities: [Note], pool: { max: 10 } });
    expect(forRoot({ tenancy: tenancy({ config, connectionAffinity: { groups: 5 } }) }).tenancy!.connectionGroups).toBe(5);
  });

  it('refuses it outside schema isolation, groups that are not a whole number, and more groups than connections', () => {
    const database = optionsError(() => forRoot({ tenancy: tenancy({ isolation: 'database', connectionAffinity: { groups: 2 } }) }));
    expect(database.problems).toEqual([
      "tenant context 'tenant': connectionAffinity applies to schema isolation only (database isolation already gives each tenant its own pool)",
    ]);
    const fraction = optionsError(() => forRoot({ tenancy: tenancy({ connectionAffinity: { groups: 1.5 } }) }));
    expect(fraction.problems).toEqual(["tenant context 'tenant': connectionAffinity.groups must be a whole number, 1 or more"]);
    const config = defineConfig({ dbName: 'x', entities: [Note], pool: { max: 4 } });
    const tooMany = optionsError(() => forRoot({ tenancy: tenancy({ config, connectionAffinity: { groups: 5 } }) }));
    expect(tooMany.problems).toEqual(["tenant context 'tenant': connectionAffinity.groups (5) is more than config.pool.max (4); each group needs a connection of its own"]);
  });
});
