import { HttpStatus } from '@nestjs/common';
import { InvalidTenantIdError } from '../../src/errors/tenant.errors.js';
import { MAX_IDENTIFIER_BYTES, TenantIdValidator, validateDerivedIdentifier } from '../../src/tenants/tenant-id-rules.js';

/** Runs `fn` and returns what it threw (fails the test when nothing is thrown). */
function errorOf(fn: () => void): InvalidTenantIdError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTenantIdError);
    return error as InvalidTenantIdError;
  }
  throw new Error('expected an InvalidTenantIdError, but nothing was thrown');
}

const DEFAULT_PATTERN_MESSAGE =
  'Invalid tenant id: it has characters that are not allowed (allowed: lowercase letters, digits, "_" and "-", starting with a letter or digit).';

describe('TenantIdValidator', () => {
  const validator = new TenantIdValidator();

  it.each(['acme', 'a', '0', 'acme-corp', 'acme_corp', 'tenant42', '9lives', 'a'.repeat(MAX_IDENTIFIER_BYTES)])(
    'accepts %p',
    (id) => {
      expect(() => validator.validate(id)).not.toThrow();
    },
  );

  it('rejects an empty id with a 400 and an exact message', () => {
    const error = errorOf(() => validator.validate(''));
    expect(error.getStatus()).toBe(HttpStatus.BAD_REQUEST);
    expect(error.message).toBe('Invalid tenant id: it is empty.');
    expect(error.rule).toBe('it is empty');
    expect(error.getResponse()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Invalid tenant id: it is empty.' });
  });

  it('rejects ids longer than 63 characters, naming the length and the limit', () => {
    expect(() => validator.validate('a'.repeat(63))).not.toThrow();
    const error = errorOf(() => validator.validate('a'.repeat(64)));
    expect(error.getStatus()).toBe(400);
    expect(error.message).toBe('Invalid tenant id: it is 64 characters long; at most 63 are allowed.');
    expect(errorOf(() => validator.validate('b'.repeat(500))).message).toContain('it is 500 characters long');
  });

  it.each([
    ['a double quote', 'ac"me'],
    ['a single quote', "ac'me"],
    ['a dot', 'acme.corp'],
    ['a double dot', '..'],
    ['a path traversal', '../acme'],
    ['a space', 'ac me'],
    ['a leading space', ' acme'],
    ['a trailing newline', 'acme\n'],
    ['a NUL byte', 'acme\u0000'],
    ['a Cyrillic look-alike', '\u0430cme'],
    ['a full-width look-alike', '\uff41cme'],
    ['uppercase letters', 'Acme'],
    ['an SQL fragment', 'a;drop table x'],
    ['an SQL comment', "acme';--"],
    ['a slash', 'a/b'],
    ['a leading underscore', '_acme'],
    ['a leading hyphen', '-acme'],
  ])('rejects an id with %s, with a 400 that does not echo the value', (_label, id) => {
    const error = errorOf(() => validator.validate(id));
    expect(error.getStatus()).toBe(400);
    expect(error.message).toBe(DEFAULT_PATTERN_MESSAGE);
    expect(error.message).not.toContain(id);
  });

  it('does not echo a hostile value even when it is long and contains markup', () => {
    const hostile = '<script>alert(1)</script>';
    const error = errorOf(() => validator.validate(hostile));
    expect(error.message).not.toContain('<script>');
    expect(JSON.stringify(error.getResponse())).not.toContain('script');
  });

  it.each(['pg_catalog', 'pg_toast', 'pg_x'])('rejects %p, which starts with the PostgreSQL-reserved "pg_"', (id) => {
    const error = errorOf(() => validator.validate(id));
    expect(error.getStatus()).toBe(400);
    expect(error.message).toBe(`Invalid tenant id: '${id}' starts with "pg_", which PostgreSQL reserves.`);
  });

  it('accepts ids that merely contain "pg" elsewhere', () => {
    expect(() => validator.validate('pgadmin')).not.toThrow();
    expect(() => validator.validate('my_pg_tenant')).not.toThrow();
  });

  it.each(['public', 'information_schema'])('always rejects the reserved name %p', (id) => {
    const error = errorOf(() => validator.validate(id));
    expect(error.message).toBe(`Invalid tenant id: '${id}' is a reserved name.`);
    // even custom rules cannot un-reserve them
    const custom = new TenantIdValidator({ reserved: ['admin'] });
    expect(errorOf(() => custom.validate(id)).message).toBe(`Invalid tenant id: '${id}' is a reserved name.`);
  });

  it('rejects custom reserved names from the rules and from the extra list', () => {
    const custom = new TenantIdValidator({ reserved: ['admin', 'api'] }, ['hub']);
    for (const id of ['admin', 'api', 'hub']) {
      const error = errorOf(() => custom.validate(id));
      expect(error.getStatus()).toBe(400);
      expect(error.message).toBe(`Invalid tenant id: '${id}' is a reserved name.`);
    }
    expect(() => custom.validate('acme')).not.toThrow();
    // the default validator does not know them
    expect(() => validator.validate('admin')).not.toThrow();
    expect(() => validator.validate('hub')).not.toThrow();
  });

  it('uses a custom pattern and its description', () => {
    const custom = new TenantIdValidator({ pattern: /^t[0-9]{3}$/, patternDescription: '"t" followed by three digits' });
    expect(() => custom.validate('t123')).not.toThrow();
    const error = errorOf(() => custom.validate('acme'));
    expect(error.getStatus()).toBe(400);
    expect(error.message).toBe('Invalid tenant id: it has characters that are not allowed (allowed: "t" followed by three digits).');
    expect(error.message).not.toContain('acme');
  });

  it('describes a custom pattern given without a description by its source', () => {
    const custom = new TenantIdValidator({ pattern: /^[A-Z]+$/ });
    expect(() => custom.validate('ACME')).not.toThrow();
    expect(errorOf(() => custom.validate('a;drop table x')).message).toBe(
      'Invalid tenant id: it has characters that are not allowed (allowed: must match /^[A-Z]+$/).',
    );
  });

  it('keeps the length, "pg_" and reserved checks with a permissive custom pattern', () => {
    const custom = new TenantIdValidator({ pattern: /^.*$/s });
    expect(errorOf(() => custom.validate('')).message).toBe('Invalid tenant id: it is empty.');
    expect(errorOf(() => custom.validate('x'.repeat(64))).message).toContain('at most 63 are allowed');
    expect(errorOf(() => custom.validate('pg_catalog')).message).toContain('starts with "pg_"');
    expect(errorOf(() => custom.validate('public')).message).toContain('is a reserved name');
  });

  it('checks the length before the pattern, so a long hostile value is not echoed either', () => {
    const hostile = `a;drop table x;${'-'.repeat(80)}`;
    const error = errorOf(() => validator.validate(hostile));
    expect(error.message).toBe(`Invalid tenant id: it is ${hostile.length} characters long; at most 63 are allowed.`);
    expect(error.message).not.toContain('drop');
  });
});

describe('validateDerivedIdentifier', () => {
  it.each([
    ['schema', 'tenant_acme'],
    ['database', 'tenant_acme-corp'],
    ['schema', `t${'a'.repeat(62)}`],
    ['schema', 'Tenant_ACME'],
  ] as const)('accepts the %s name %p', (kind, name) => {
    expect(() => validateDerivedIdentifier(kind, name, 'acme')).not.toThrow();
  });

  it('rejects a 64-byte name, mentioning the 63-byte limit', () => {
    const name = `t${'a'.repeat(63)}`;
    expect(Buffer.byteLength(name)).toBe(64);
    const error = errorOf(() => validateDerivedIdentifier('schema', name, 'acme'));
    expect(error.getStatus()).toBe(400);
    expect(error.message).toBe(
      "Invalid tenant id: the schema name for tenant 'acme' would be 64 bytes long; PostgreSQL allows 63 " +
        'and silently truncates longer names, so use a shorter id.',
    );
  });

  it('counts multibyte characters in bytes, not characters', () => {
    const name = 'é'.repeat(32); // 32 characters, 64 bytes
    expect(name.length).toBe(32);
    const error = errorOf(() => validateDerivedIdentifier('database', name, 'acme'));
    expect(error.message).toContain('the database name for tenant \'acme\' would be 64 bytes long');
    expect(error.message).toContain('PostgreSQL allows 63');
  });

  it.each([
    ['a dot', 'tenant.acme'],
    ['a quote', 'tenant"acme'],
    ['a space', 'tenant acme'],
    ['a leading digit', '1tenant'],
    ['a semicolon', 'tenant;drop'],
    ['a multibyte character', 'tenant_é'],
    ['a "pg_" prefix', 'pg_tenant'],
    ['nothing', ''],
  ])('rejects a name with %s as unsafe', (_label, name) => {
    const error = errorOf(() => validateDerivedIdentifier('schema', name, 'acme'));
    expect(error.getStatus()).toBe(400);
    expect(error.message).toBe("Invalid tenant id: the schema name derived for tenant 'acme' is not a safe identifier.");
  });
});
