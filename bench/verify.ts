import { RELATIONAL, TAGS_PER_ARTICLE } from './entities.js';
import { type Scenario, tenantId } from './scenarios.js';

interface ArticleJson {
  author?: { name?: string };
  tags?: { name?: string }[];
}

/**
 * Before a scenario is measured: one request per tenant checked (the first and the last tenant), so a server that
 * answers fast but wrong (another tenant's rows, `public`'s, an error page) never becomes a figure. findOne: the
 * seeded item names its tenant. relational: a full page, the total, and every author and tag name ending with
 * ` @<tenant>`: a joined or pivot table read from anywhere but the tenant's schema or database fails here.
 * Shared tables (scenario 10) hold every tenant's rows, with the same item ids 1..SEEDED_ROWS in each tenant: the
 * same checks then fail if the tenant filter (or, with row-level security, the policies) let another tenant's row
 * through (total 200, not 20,000; the item of tenant 1 served to the last), and findOne also checks a write: an item
 * posted by the first tenant is found by it (with its tenant column filled in) and answers 404 to the last tenant.
 */
export async function verifyScenario(port: number, scenario: Scenario): Promise<void> {
  // several servers (scenario 11): every tenant, so each server and each routed tenant is seen to answer
  const every = scenario.storage === 'servers' ? Array.from({ length: scenario.tenants }, (_, i) => tenantId(i + 1)) : undefined;
  const tenants = every ?? (scenario.tenants ? [...new Set([tenantId(1), tenantId(scenario.tenants)])] : [tenantId(1)]);
  for (const tenant of tenants) {
    const marker = scenario.tenants ? tenant : 'main';
    const fail = (what: string): never => {
      throw new Error(`scenario ${scenario.id} served a wrong answer to tenant ${tenant}: ${what}`);
    };
    const path = scenario.workload === 'relational' ? '/articles?page=2' : '/items/1';
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-tenant-id': tenant } });
    const text = await response.text();
    if (response.status !== 200) fail(`GET ${path} answered ${response.status}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { tenant?: string; total?: number; items?: ArticleJson[] };
    if (scenario.workload === 'findOne') {
      if (body.tenant !== marker) fail(`GET ${path} returned the item of '${body.tenant}', expected '${marker}'`);
      continue;
    }
    if (body.total !== RELATIONAL.articles) fail(`total ${body.total}, expected ${RELATIONAL.articles}`);
    if (body.items?.length !== RELATIONAL.pageSize) fail(`${body.items?.length} articles on a page, expected ${RELATIONAL.pageSize}`);
    for (const article of body.items ?? []) {
      if (!article.author?.name?.endsWith(` @${marker}`)) fail(`author ${JSON.stringify(article.author)}`);
      if (article.tags?.length !== TAGS_PER_ARTICLE) fail(`${article.tags?.length} tags on an article, expected ${TAGS_PER_ARTICLE}`);
      for (const tag of article.tags ?? []) if (!tag.name?.endsWith(` @${marker}`)) fail(`tag ${JSON.stringify(tag)}`);
    }
  }
  if (scenario.storage === 'shared' && scenario.workload === 'findOne') await verifySharedWrite(port, scenario);
}

/** Shared tables: a posted item is its tenant's only (ids come from one sequence, so the id names one row). */
async function verifySharedWrite(port: number, scenario: Scenario): Promise<void> {
  const [writer, other] = [tenantId(1), tenantId(scenario.tenants)];
  const fail = (what: string): never => {
    throw new Error(`scenario ${scenario.id}: a write of tenant ${writer} ${what}`);
  };
  const posted = await fetch(`http://127.0.0.1:${port}/items`, {
    method: 'POST',
    headers: { 'x-tenant-id': writer, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'verify insert', tenant: writer }),
  });
  const created = (await posted.json()) as { id?: number };
  if (posted.status !== 201 || typeof created.id !== 'number') fail(`was answered ${posted.status}: ${JSON.stringify(created).slice(0, 300)}`);
  const read = async (tenant: string): Promise<{ status: number; body: { tenant?: string } }> => {
    const response = await fetch(`http://127.0.0.1:${port}/items/${created.id}`, { headers: { 'x-tenant-id': tenant } });
    return { status: response.status, body: (await response.json()) as { tenant?: string } };
  };
  const own = await read(writer);
  if (own.status !== 200 || own.body.tenant !== writer) fail(`is not read back by it: ${own.status} ${JSON.stringify(own.body).slice(0, 300)}`);
  const foreign = await read(other);
  if (foreign.status !== 404) fail(`is served to tenant ${other}: ${foreign.status} ${JSON.stringify(foreign.body).slice(0, 300)}`);
}
