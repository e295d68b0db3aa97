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
 */
export async function verifyScenario(port: number, scenario: Scenario): Promise<void> {
  const tenants = scenario.tenants ? [...new Set([tenantId(1), tenantId(scenario.tenants)])] : [tenantId(1)];
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
}
