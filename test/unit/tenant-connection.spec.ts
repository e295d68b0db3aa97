import { defineConfig } from '@mikro-orm/postgresql';
import { TenantConnectionMismatchError } from '../../src/errors/isolation.errors.js';
import { resolveTenantConnection } from '../../src/isolation/database/tenant-connection.js';
import { parseSearchPath, withSearchPath } from '../../src/isolation/schema/search-path.js';
import { printableTenantId, TenantIdValidator, validateDerivedIdentifier } from '../../src/tenants/tenant-id-rules.js';

const template = defineConfig({ dbName: 'app_template', host: 'db1', port: 5432, user: 'app', entities: [] as never[] });

function mismatch(fn: () => unknown): TenantConnectionMismatchError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TenantConnectionMismatchError);
    return error as TenantConnectionMismatchError;
  }
  throw new Error('expected a TenantConnectionMismatchError');
}

describe('resolveTenantConnection (database mode)', () => {
  it('refuses a tenant clientUrl next to a template dbName (regression: every tenant landed in the template database)', () => {
    const error = mismatch(() => resolveTenantConnection('t1', template, { clientUrl: 'postgresql://app@db1:5432/tenant_t1' }, []));
    expect(error.getStatus()).toBe(500);
    expect(error.message).toContain("Tenant 't1' cannot be served");
    expect(error.message).toContain("tenancy.config also sets 'dbName'");
    expect(error.message).not.toContain('app_template'); // no connection details to clients
  });

  it.each([
    ['host', 'postgresql://app@db2:5432/tenant_t1'],
    ['port', 'postgresql://app@db1:6543/tenant_t1'],
    ['user', 'postgresql://other@db1:5432/tenant_t1'],
  ])('refuses a tenant clientUrl whose %s the template would override', (option, clientUrl) => {
    const { dbName: _omit, ...noDb } = template;
    const error = mismatch(() => resolveTenantConnection('t1', noDb, { clientUrl }, []));
    expect(error.message).toContain(`tenancy.config also sets '${option}'`);
  });

  it('takes a tenant clientUrl when the template names no conflicting option, and keeps its database', () => {
    const { dbName: _omit, ...noDb } = template;
    const { options, dbName } = resolveTenantConnection('t1', noDb, { clientUrl: 'postgresql://app@db1:5432/tenant_t1' }, []);
    expect(dbName).toBe('tenant_t1');
    expect(options.dbName).toBe('tenant_t1');
    expect(options.clientUrl).toBe('postgresql://app@db1:5432/tenant_t1');
  });

  it('accepts a clientUrl when the template options agree with it or the tenant restates them', () => {
    expect(resolveTenantConnection('t1', template, { clientUrl: 'postgresql://app@db1:5432/tenant_t1', dbName: 'tenant_t1' }, []).dbName).toBe('tenant_t1');
  });

  it('refuses overrides that name no database (they would land in the template database)', () => {
    expect(mismatch(() => resolveTenantConnection('t1', template, { host: 'db2' }, [])).message).toContain('names no database');
    expect(mismatch(() => resolveTenantConnection('t1', template, { clientUrl: 'postgresql://app@db1:5432' }, [])).message).toContain('names no database');
  });

  it("refuses the template's database and a static context's", () => {
    expect(mismatch(() => resolveTenantConnection('t1', template, { dbName: 'app_template' }, [])).message).toContain("tenant template's");
    expect(mismatch(() => resolveTenantConnection('t1', template, { dbName: 'hub' }, ['hub'])).message).toContain("static context's");
  });

  it('drops a template clientUrl only when the tenant gives its own', () => {
    const withUrl = { ...template, dbName: undefined, clientUrl: 'postgresql://app@db1:5432/app_template' };
    expect(resolveTenantConnection('t1', withUrl, { dbName: 'tenant_t1' }, []).options.clientUrl).toBe(withUrl.clientUrl);
  });

  it('never echoes an invalid clientUrl (it may carry a password)', () => {
    const error = mismatch(() => resolveTenantConnection('t1', template, { clientUrl: 'not a url:secret' }, []));
    expect(error.message).not.toContain('secret');
  });
});

describe('derived names', () => {
  it.each([
    ['schema', 'public'],
    ['schema', 'information_schema'],
    ['database', 'postgres'],
    ['database', 'template1'],
  ] as const)('refuses the %s name %p', (kind, name) => {
    expect(() => validateDerivedIdentifier(kind, name, 't1')).toThrow(/is reserved/);
  });

  it('refuses names reserved by the configuration (static schemas, extension schemas)', () => {
    expect(() => validateDerivedIdentifier('schema', 'extensions', 't1', ['extensions'])).toThrow(/is reserved/);
    expect(() => validateDerivedIdentifier('schema', 'tenant_t1', 't1', ['extensions'])).not.toThrow();
  });
});

describe('printableTenantId', () => {
  const ids = new TenantIdValidator();

  it('prints a valid id as is', () => {
    expect(printableTenantId('acme', ids)).toBe("'acme'");
  });

  it.each(['Bad Id"; --', 'a\nb', 'x\u202ey', "o'brien"])('never prints %p raw', (id) => {
    const shown = printableTenantId(id, ids);
    expect(shown).not.toContain(id);
    expect(shown).toMatch(/^"[\x20-\x7e]*" \(an invalid tenant id, shown escaped\)$/);
  });
});

describe('search path (schema mode)', () => {
  it('adds the startup option after the user\'s own, so it wins', () => {
    expect(withSearchPath({ options: '-c statement_timeout=5000' }, [])).toEqual({ options: '-c statement_timeout=5000 -c search_path=' });
    expect(withSearchPath(undefined, ['extensions', 'postgis'])).toEqual({ options: '-c search_path=extensions,postgis' });
  });

  it('parses current_setting(search_path)', () => {
    expect(parseSearchPath('')).toEqual([]);
    expect(parseSearchPath('"$user", public')).toEqual(['$user', 'public']);
    expect(parseSearchPath('extensions')).toEqual(['extensions']);
  });
});

describe('isPostgreSqlDriver', () => {
  it('recognises the PostgreSQL driver and its subclasses (the schema-mode tenant driver), not others', async () => {
    const { PostgreSqlDriver } = await import('@mikro-orm/postgresql');
    const { SqliteDriver } = await import('@mikro-orm/sql');
    const { tenantSchemaDriverClass } = await import('../../src/isolation/schema/tenant-schema-driver.js');
    const { isPostgreSqlDriver } = await import('../../src/isolation/pg-pool-guards.js');
    expect(isPostgreSqlDriver(PostgreSqlDriver)).toBe(true);
    expect(isPostgreSqlDriver(tenantSchemaDriverClass({ driver: PostgreSqlDriver }, () => undefined) as never)).toBe(true);
    expect(isPostgreSqlDriver(SqliteDriver)).toBe(false);
    expect(isPostgreSqlDriver(undefined)).toBe(false);
  });
});
