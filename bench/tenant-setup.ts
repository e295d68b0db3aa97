/**
 * `node --import @swc-node/register/esm-register bench/tenant-setup.ts [runs]`: what a test tenant costs to set up,
 * TenancyTesting.createTenant (a copy of a migrated template) against TenantLifecycle.create (provision + every
 * migration), in both isolation modes, on the notes model of the test fixtures (3 migrations). Starts its own
 * PostgreSQL (embedded, or DATABASE_URL). Prints the median and p90 per way, in ms. Not part of `npm test`.
 */
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { usePostgres } from '../scripts/embedded-postgres.js';

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const runs = Number(process.argv[2] ?? 20);

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
};
const summary = (label: string, values: number[]): string => `${label}: median ${quantile(values, 0.5).toFixed(1)} ms, p90 ${quantile(values, 0.9).toFixed(1)} ms (${values.length} runs)`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function main(): Promise<void> {
  const postgres = await usePostgres({ log: () => undefined });
  process.env.TEST_DATABASE_URL = postgres.url; // the fixtures connect through the test helpers
  const { lifecycleModule } = await import('../test/fixtures/lifecycle-app.js');
  const { ContextMigrations, TenantLifecycle } = await import('../src/index.js');
  const { TenancyTesting } = await import('../src/testing/index.js');
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    for (const isolation of ['schema', 'database'] as const) {
      const hubDb = `bench_setup_${isolation}_${process.pid}`;
      await admin.query(`create database "${hubDb}"`);
      const app = await NestFactory.create(lifecycleModule({ isolation, hubDb, databasePrefix: `bs${process.pid}`, changes: false }), { logger: ['error'] });
      await app.init();
      try {
        await app.get(ContextMigrations).up('hub');
        const lifecycle = app.get(TenantLifecycle);
        const kit = await TenancyTesting.create(app, { templateId: 'tpl' });
        const [migrated, cloned]: number[][] = [[], []];
        for (let i = 0; i < runs; i++) {
          migrated.push(await timed(() => lifecycle.create(`m${i}`)));
          cloned.push(await timed(() => kit.createTenant({}, `c${i}`)));
        }
        log(summary(`${isolation} mode, TenantLifecycle.create`, migrated));
        log(summary(`${isolation} mode, TenancyTesting.createTenant`, cloned));
        for (let i = 0; i < runs; i++) await lifecycle.drop(`m${i}`, { confirm: `m${i}` });
        await kit.cleanup();
        await kit.dropTemplate();
      } finally {
        await app.close();
        await admin.query(`drop database if exists "${hubDb}" with (force)`);
      }
    }
  } finally {
    await admin.end();
    await postgres.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
