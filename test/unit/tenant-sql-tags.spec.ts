import { tenantSqlTag } from '../../src/index.js';
import { TenantSqlTags } from '../../src/observability/tenant-sql-tags.js';

describe('tenantSqlTag', () => {
  it('writes the sqlcommenter form for ordinary ids', () => {
    expect(tenantSqlTag('acme')).toBe(" /*tenant='acme'*/");
    expect(tenantSqlTag('acme-2_b')).toBe(" /*tenant='acme-2_b'*/");
  });

  it('encodes whatever a custom id rule may allow, so nothing ends the comment or the value or adds a placeholder', () => {
    const tag = tenantSqlTag("a'*/; drop table x; --?");
    expect(tag).toBe(" /*tenant='a%27%2A%2F%3B%20drop%20table%20x%3B%20--%3F'*/");
    const inside = tag.slice(' /*'.length, -'*/'.length);
    expect(inside).not.toMatch(/\*\/|\/\*|\?/);
    expect(inside.split("'")).toHaveLength(3);
  });
});

describe('TenantSqlTags', () => {
  const config = { onQuery: (sql: string) => `${sql} -- own` };

  it('tags only while enabled, after the config’s own onQuery, with the current tenant', () => {
    const tags = new TenantSqlTags();
    let current: string | undefined = 'acme';
    const onQuery = tags.install(config, () => current).onQuery!;
    expect(onQuery('select 1', [])).toBe('select 1 -- own');
    const off = tags.enable();
    expect(onQuery('select 1', [])).toBe("select 1 -- own /*tenant='acme'*/");
    current = undefined;
    expect(onQuery('select 1', [])).toBe('select 1 -- own');
    off();
    off(); // idempotent: a second call does not turn off another enabler
    current = 'acme';
    expect(onQuery('select 1', [])).toBe('select 1 -- own');
  });
});
