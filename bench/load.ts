import autocannon from 'autocannon';
import { RELATIONAL } from './entities.js';
import { type Workload, tenantId } from './scenarios.js';
import { INSERT_SHARE, SEEDED_ROWS } from './settings.js';
import { percentile } from './stats.js';

export interface LoadResult {
  durationS: number;
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * Response time of every 2xx response, in ms at full resolution (autocannon's own percentiles are whole ms), so
   * windows can be pooled into one percentile over all their requests (paired.ts).
   */
  latenciesMs: number[];
  /** Connection errors, timeouts and non-2xx responses. */
  errors: number;
  non2xx: number;
}

export interface LoadOptions {
  port: number;
  durationS: number;
  connections: number;
  /** Tenants to pick from at random per request (0: the header is sent with a fixed value and ignored). */
  tenants: number;
  workload: Workload;
}

/** Pages of the relational list endpoint: every page is full (RELATIONAL.articles / pageSize). */
export const RELATIONAL_PAGES = Math.floor(RELATIONAL.articles / RELATIONAL.pageSize);

/**
 * One bounded autocannon run against 127.0.0.1, each request with an `x-tenant-id` header of a random tenant.
 * findOne: (1 - INSERT_SHARE) GET /items/:id with a random seeded id, INSERT_SHARE POST /items.
 * relational: GET /articles?page=N with a random full page (read-only, so the data volume stays the same).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const pickTenant = (): string => tenantId(options.tenants ? 1 + Math.floor(Math.random() * options.tenants) : 1);
  const latenciesMs: number[] = [];
  const autocannonOptions: autocannon.Options = {
    url: `http://127.0.0.1:${options.port}`,
    connections: options.connections,
    duration: options.durationS,
    timeout: 10,
    requests: [
      {
        setupRequest: (request) => {
          const tenant = pickTenant();
          const headers = { ...request.headers, 'x-tenant-id': tenant };
          if (options.workload === 'relational') {
            return { ...request, method: 'GET', path: `/articles?page=${1 + Math.floor(Math.random() * RELATIONAL_PAGES)}`, headers, body: undefined };
          }
          if (Math.random() < INSERT_SHARE) {
            return { ...request, method: 'POST', path: '/items', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'bench insert', tenant }) };
          }
          return { ...request, method: 'GET', path: `/items/${1 + Math.floor(Math.random() * SEEDED_ROWS)}`, headers, body: undefined };
        },
      },
    ],
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(autocannonOptions, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      if (statusCode >= 200 && statusCode < 300) latenciesMs.push(responseTimeMs);
    });
  });
  const requests = result.requests.total;
  const durationS = result.duration;
  return {
    durationS,
    requests,
    reqPerSec: durationS > 0 ? requests / durationS : 0,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    latenciesMs,
    errors: result.errors + result.timeouts + result.non2xx,
    non2xx: result.non2xx,
  };
}
