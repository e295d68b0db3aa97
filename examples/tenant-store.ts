import type { TenantRecord, TenantStore } from 'nestjs-mikro-tenancy';

interface MyTenant extends TenantRecord { plan: 'free' | 'pro' }

class ApiTenantStore implements TenantStore<MyTenant> {
  constructor(private readonly baseUrl: string) {}

  async find(id: string): Promise<MyTenant | undefined> {
    const res = await fetch(`${this.baseUrl}/tenants/${id}`); // id is already validated: safe in a URL
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`Tenant API answered ${res.status} for '${id}'`); // not cached; the request fails
    return (await res.json()) as MyTenant;
  }

  async list(): Promise<MyTenant[]> { // used by forEachTenant, migrations and the CLI
    const res = await fetch(`${this.baseUrl}/tenants`);
    if (!res.ok) throw new Error(`Tenant API answered ${res.status} for the tenant list`);
    return (await res.json()) as MyTenant[];
  }

  // optional: add(record) / remove(id), used by TenantLifecycle.create/drop (without them the store is read-only)
  // optional: attach(contexts: StaticContexts), called once at boot after the static contexts are up
}

export const apiStore = new ApiTenantStore('https://tenants.internal');
