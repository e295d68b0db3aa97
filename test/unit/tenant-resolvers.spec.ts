import type { IncomingHttpHeaders } from 'node:http';
import type { TenantRequest, TenantResolver } from '../../src/resolution/tenant-resolver.js';
import { TenantResolverChain } from '../../src/resolution/tenant-resolver-chain.js';
import { TenantResolvers } from '../../src/resolution/tenant-resolvers.js';

function request(parts: { headers?: IncomingHttpHeaders; url?: string; originalUrl?: string } = {}): TenantRequest {
  return { headers: parts.headers ?? {}, url: parts.url, originalUrl: parts.originalUrl };
}

describe('TenantResolvers.header', () => {
  it('reads x-tenant-id by default', async () => {
    const resolver = TenantResolvers.header();
    expect(await resolver.resolve(request({ headers: { 'x-tenant-id': 'acme' } }))).toBe('acme');
    expect(await resolver.resolve(request({ headers: { 'x-other': 'acme' } }))).toBeUndefined();
    expect(resolver.describe).toBe('header "x-tenant-id: <tenant>"');
  });

  it('takes the header name case-insensitively (Node lowercases incoming header names)', async () => {
    const resolver = TenantResolvers.header('X-Org-ID');
    expect(await resolver.resolve(request({ headers: { 'x-org-id': 'acme' } }))).toBe('acme');
    expect(resolver.describe).toBe('header "x-org-id: <tenant>"');
  });

  it('takes the first value of a repeated header', async () => {
    const resolver = TenantResolvers.header('x-tenant');
    const headers = { 'x-tenant': ['first', 'second'] } as unknown as IncomingHttpHeaders;
    expect(await resolver.resolve(request({ headers }))).toBe('first');
  });

  it('hands on an empty header value as sent', async () => {
    expect(await TenantResolvers.header().resolve(request({ headers: { 'x-tenant-id': '' } }))).toBe('');
  });
});

describe('TenantResolvers.subdomain', () => {
  const resolver = TenantResolvers.subdomain({ baseDomain: 'Example.com' });
  const hostOf = (host: string | undefined) => resolver.resolve(request({ headers: host === undefined ? {} : { host } }));

  it('finds the tenant in a subdomain of the base domain', async () => {
    expect(await hostOf('acme.example.com')).toBe('acme');
    expect(await hostOf('ACME.Example.COM')).toBe('acme');
  });

  it('ignores the port in the host header', async () => {
    expect(await hostOf('acme.example.com:3000')).toBe('acme');
    expect(await hostOf('www.example.com:8080')).toBeUndefined();
  });

  it('ignores www by default', async () => {
    expect(await hostOf('www.example.com')).toBeUndefined();
  });

  it('uses a custom ignore list instead of www', async () => {
    const custom = TenantResolvers.subdomain({ baseDomain: 'example.com', ignore: ['app', 'api'] });
    expect(await custom.resolve(request({ headers: { host: 'app.example.com' } }))).toBeUndefined();
    expect(await custom.resolve(request({ headers: { host: 'api.example.com' } }))).toBeUndefined();
    expect(await custom.resolve(request({ headers: { host: 'www.example.com' } }))).toBe('www');
  });

  it('returns a nested subdomain whole, so the id rules reject it instead of it being shortened', async () => {
    expect(await hostOf('a.b.example.com')).toBe('a.b');
  });

  it('finds nothing on another domain, on the bare base domain or without a host', async () => {
    expect(await hostOf('acme.example.org')).toBeUndefined();
    expect(await hostOf('acme.notexample.com')).toBeUndefined();
    expect(await hostOf('evilexample.com')).toBeUndefined();
    expect(await hostOf('example.com')).toBeUndefined();
    expect(await hostOf('localhost:3000')).toBeUndefined();
    expect(await hostOf(undefined)).toBeUndefined();
  });

  it('describes itself with the base domain', () => {
    expect(resolver.describe).toBe('a subdomain "<tenant>.example.com"');
  });
});

describe('TenantResolvers.path', () => {
  const resolver = TenantResolvers.path();

  it('finds the segment after /t/', async () => {
    expect(await resolver.resolve(request({ url: '/t/acme/projects' }))).toBe('acme');
    expect(await resolver.resolve(request({ url: '/t/acme' }))).toBe('acme');
    expect(await resolver.resolve(request({ url: '/t/acme/projects/42/notes' }))).toBe('acme');
  });

  it('finds nothing outside the prefix', async () => {
    expect(await resolver.resolve(request({ url: '/projects' }))).toBeUndefined();
    expect(await resolver.resolve(request({ url: '/tenants/acme' }))).toBeUndefined();
    expect(await resolver.resolve(request({ url: '/x/t/acme' }))).toBeUndefined();
    expect(await resolver.resolve(request({ url: '/t' }))).toBeUndefined();
    expect(await resolver.resolve(request({}))).toBeUndefined();
  });

  it('decodes url-encoded segments', async () => {
    expect(await resolver.resolve(request({ url: '/t/ac%20me/projects' }))).toBe('ac me');
    expect(await resolver.resolve(request({ url: '/t/a%2Fb/projects' }))).toBe('a/b');
  });

  it('hands a malformed escape on as sent', async () => {
    expect(await resolver.resolve(request({ url: '/t/ac%E0%A4%Ame/x' }))).toBe('ac%E0%A4%Ame');
  });

  it('strips the query string', async () => {
    expect(await resolver.resolve(request({ url: '/t/acme?x=1' }))).toBe('acme');
    expect(await resolver.resolve(request({ url: '/t/acme/projects?x=/t/other/' }))).toBe('acme');
    expect(await resolver.resolve(request({ url: '/projects?next=/t/acme/' }))).toBeUndefined();
  });

  it('prefers originalUrl over url (express middleware mounted on a path)', async () => {
    expect(await resolver.resolve(request({ originalUrl: '/t/acme/projects', url: '/projects' }))).toBe('acme');
    expect(await resolver.resolve(request({ originalUrl: '/projects', url: '/t/acme/projects' }))).toBeUndefined();
  });

  it('uses a custom prefix', async () => {
    const custom = TenantResolvers.path({ prefix: 'orgs' });
    expect(await custom.resolve(request({ url: '/orgs/acme/projects' }))).toBe('acme');
    expect(await custom.resolve(request({ url: '/t/acme/projects' }))).toBeUndefined();
    expect(custom.describe).toBe('a path "/orgs/<tenant>/..."');
  });

  it('returns an empty segment as a hit, so the id rules reject it', async () => {
    expect(await resolver.resolve(request({ url: '/t//projects' }))).toBe('');
  });
});

describe('TenantResolvers.query', () => {
  const resolver = TenantResolvers.query();

  it('reads ?tenant=', async () => {
    expect(await resolver.resolve(request({ url: '/projects?tenant=acme' }))).toBe('acme');
    expect(await resolver.resolve(request({ url: '/projects?page=2&tenant=acme&x=1' }))).toBe('acme');
    expect(resolver.describe).toBe('a query parameter "?tenant=<tenant>"');
  });

  it('finds nothing without a query string or without the parameter', async () => {
    expect(await resolver.resolve(request({ url: '/projects' }))).toBeUndefined();
    expect(await resolver.resolve(request({ url: '/projects?page=2' }))).toBeUndefined();
    expect(await resolver.resolve(request({}))).toBeUndefined();
  });

  it('decodes the value and takes the first of repeated parameters', async () => {
    expect(await resolver.resolve(request({ url: '/p?tenant=ac%20me' }))).toBe('ac me');
    expect(await resolver.resolve(request({ url: '/p?tenant=first&tenant=second' }))).toBe('first');
  });

  it('prefers originalUrl over url and supports a custom parameter name', async () => {
    const custom = TenantResolvers.query('org');
    expect(await custom.resolve(request({ originalUrl: '/p?org=acme', url: '/p?org=other' }))).toBe('acme');
    expect(await custom.resolve(request({ url: '/p?tenant=acme' }))).toBeUndefined();
  });

  it('returns an empty value as a hit', async () => {
    expect(await resolver.resolve(request({ url: '/p?tenant=' }))).toBe('');
  });
});

describe('TenantResolvers.custom', () => {
  it('runs an async function and uses its description', async () => {
    const resolver = TenantResolvers.custom(async (req) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const auth = req.headers.authorization;
      return auth?.startsWith('Tenant ') ? auth.slice('Tenant '.length) : undefined;
    }, 'an "Authorization: Tenant <tenant>" header');
    expect(await resolver.resolve(request({ headers: { authorization: 'Tenant acme' } }))).toBe('acme');
    expect(await resolver.resolve(request({ headers: { authorization: 'Bearer x' } }))).toBeUndefined();
    expect(resolver.describe).toBe('an "Authorization: Tenant <tenant>" header');
  });

  it('has a generic default description', () => {
    expect(TenantResolvers.custom(() => undefined).describe).toBe('the way this app expects');
  });
});

describe('TenantResolverChain', () => {
  /** A resolver that always answers `value` and records that it was asked. */
  function fixed(value: string | undefined, asked: string[], name: string): TenantResolver {
    return { describe: name, resolve: () => (asked.push(name), value) };
  }

  it('asks the resolvers in order and the first hit wins', async () => {
    const asked: string[] = [];
    const chain = new TenantResolverChain([fixed(undefined, asked, 'one'), fixed('two', asked, 'two'), fixed('three', asked, 'three')]);
    expect(await chain.resolve(request())).toBe('two');
    expect(asked).toEqual(['one', 'two']);
  });

  it('treats an empty string as a hit, so a later resolver is not asked', async () => {
    const asked: string[] = [];
    const chain = new TenantResolverChain([fixed('', asked, 'empty'), fixed('later', asked, 'later')]);
    expect(await chain.resolve(request())).toBe('');
    expect(asked).toEqual(['empty']);
  });

  it('returns undefined when no resolver finds anything', async () => {
    const asked: string[] = [];
    const chain = new TenantResolverChain([fixed(undefined, asked, 'a'), fixed(undefined, asked, 'b')]);
    expect(await chain.resolve(request())).toBeUndefined();
    expect(asked).toEqual(['a', 'b']);
  });

  it('awaits async resolvers before asking the next one', async () => {
    const chain = new TenantResolverChain([
      TenantResolvers.custom(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return 'slow';
      }),
      TenantResolvers.header(),
    ]);
    expect(await chain.resolve(request({ headers: { 'x-tenant-id': 'fast' } }))).toBe('slow');
  });

  it('combines real resolvers: header before path before query', async () => {
    const chain = new TenantResolverChain([TenantResolvers.header(), TenantResolvers.path(), TenantResolvers.query()]);
    expect(await chain.resolve(request({ headers: { 'x-tenant-id': 'h' }, url: '/t/p?tenant=q' }))).toBe('h');
    expect(await chain.resolve(request({ url: '/t/p?tenant=q' }))).toBe('p');
    expect(await chain.resolve(request({ url: '/x?tenant=q' }))).toBe('q');
    expect(await chain.resolve(request({ url: '/x' }))).toBeUndefined();
  });

  it('tells how to send a tenant, every way in order', () => {
    const chain = new TenantResolverChain([TenantResolvers.header(), TenantResolvers.path(), TenantResolvers.subdomain({ baseDomain: 'example.com' })]);
    expect(chain.howToSend).toBe(
      'send header "x-tenant-id: <tenant>" or a path "/t/<tenant>/..." or a subdomain "<tenant>.example.com"',
    );
    expect(new TenantResolverChain([TenantResolvers.query('org')]).howToSend).toBe('send a query parameter "?org=<tenant>"');
  });
});
