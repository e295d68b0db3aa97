import { MikroORM } from '@mikro-orm/postgresql';
import { sampleConfigs } from './config.js';
import { Tenant } from './entities/tenant.entity.js';

export const DEMO_TENANTS = [
  { id: 'acme', name: 'Acme Corp' },
  { id: 'globex', name: 'Globex' },
];

/** Creates the sample databases and tables if missing and seeds two demo tenants (idempotent). */
export async function prepareSampleData(serverUrl: string): Promise<void> {
  const configs = sampleConfigs(serverUrl);
  for (const config of [configs.hub, configs.analytics] as Parameters<typeof MikroORM.init>[0][]) {
    const orm = await MikroORM.init(config);
    await orm.schema.ensureDatabase();
    await orm.schema.update();
    await orm.close();
  }
  const hub = await MikroORM.init(configs.hub);
  const tenants = await MikroORM.init(configs.tenant);
  try {
    const ddl = await tenants.schema.getCreateSchemaSQL();
    for (const tenant of DEMO_TENANTS) {
      await hub.em.fork().upsert(Tenant, { ...tenant, suspended: false });
      const schema = `tenant_${tenant.id}`;
      const exists = await hub.em.getConnection().execute('select 1 from pg_namespace where nspname = ?', [schema]);
      if (exists.length) continue;
      await tenants.em.fork().transactional(async (em) => {
        await em.execute(`create schema "${schema}"`);
        await em.execute(`set local search_path to "${schema}"`);
        await em.execute(ddl);
      });
    }
  } finally {
    await Promise.all([hub.close(), tenants.close()]);
  }
}
