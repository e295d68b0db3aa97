import type { TenantRequest, TenantResolver } from './tenant-resolver.js';

export interface SubdomainResolverOptions {
  /** The domain tenants are subdomains of: with `example.com`, `acme.example.com` is tenant `acme`. */
  baseDomain: string;
  /** Subdomains that are not tenants. Default `['www']`. */
  ignore?: string[];
}

export interface PathResolverOptions {
  /** The segment before the tenant id: with `'t'`, `/t/acme/projects` is tenant `acme`. Default `'t'`. */
  prefix?: string;
}

function pathOf(request: TenantRequest): string {
  const url = request.originalUrl ?? request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function header(name = 'x-tenant-id'): TenantResolver {
  const key = name.toLowerCase();
  return {
    describe: `header "${key}: <tenant>"`,
    resolve: (request) => {
      const value = request.headers[key];
      return Array.isArray(value) ? value[0] : value;
    },
  };
}

function subdomain(options: SubdomainResolverOptions): TenantResolver {
  const suffix = `.${options.baseDomain.toLowerCase()}`;
  const ignore = new Set((options.ignore ?? ['www']).map((s) => s.toLowerCase()));
  return {
    describe: `a subdomain "<tenant>${suffix}"`,
    resolve: (request) => {
      const host = request.headers.host?.toLowerCase().replace(/:\d+$/, '');
      if (!host?.endsWith(suffix)) return undefined;
      const sub = host.slice(0, -suffix.length);
      // "a.b.example.com" yields "a.b", which the id rules reject: nested subdomains are never silently shortened
      return ignore.has(sub) ? undefined : sub;
    },
  };
}

function path(options: PathResolverOptions = {}): TenantResolver {
  const prefix = `/${options.prefix ?? 't'}/`;
  return {
    describe: `a path "${prefix}<tenant>/..."`,
    resolve: (request) => {
      const p = pathOf(request);
      if (!p.startsWith(prefix)) return undefined;
      const end = p.indexOf('/', prefix.length);
      const raw = p.slice(prefix.length, end === -1 ? undefined : end);
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw; // malformed escapes: handed on as sent, so the id rules reject it with a 400
      }
    },
  };
}

function query(param = 'tenant'): TenantResolver {
  return {
    describe: `a query parameter "?${param}=<tenant>"`,
    resolve: (request) => {
      const url = request.originalUrl ?? request.url ?? '';
      const start = url.indexOf('?');
      if (start === -1) return undefined;
      return new URLSearchParams(url.slice(start + 1)).get(param) ?? undefined;
    },
  };
}

function custom(
  resolve: (request: TenantRequest) => string | undefined | Promise<string | undefined>,
  describe = 'the way this app expects',
): TenantResolver {
  return { describe, resolve };
}

/** Ready-made resolvers; list them in `tenancy.resolve`, first hit wins. */
export const TenantResolvers = { header, subdomain, path, query, custom };
