/**
 * MikroORM's own CLI, per context of the sample app: `npx mikro-orm <command> --contextName hub|analytics|tenant`.
 * Needs DATABASE_URL (the CLI does not start the embedded PostgreSQL).
 */
import type { Options } from '@mikro-orm/core';
import { sampleConfigs } from './sample-app/src/config.js';

const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const configs = sampleConfigs(url);

const perContext: Partial<Options>[] = [
  { ...configs.hub, contextName: 'hub' },
  { ...configs.analytics, contextName: 'analytics' },
  { ...configs.tenant, contextName: 'tenant' },
];

export default perContext;
