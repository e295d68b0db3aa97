/**
 * One fan-out run in its own process (forked by bench-migrations.ts with BENCH_FANOUT set): boots the library on the
 * migration database with N static tenants, applies the migration set to all of them with
 * TenantLifecycle.migrate({ concurrency }), and reports the timing over IPC.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MikroTenancyModule, TenantLifecycle, TenantStores } from '../../src/index.js';
import { tenantSchemaName } from '../scenarios.js';
import { migrationConfig } from './migration-config.js';

export interface FanOutRequest {
  url: string;
  tenantIds: string[];
  concurrency: number;
}

export interface FanOutOutcome {
  ok: boolean;
  tenants: number;
  migrated: number;
  failed: number;
  /** TenantLifecycle.migrate() alone, and the Nest boot before it. */
  migrateMs: number;
  bootMs: number;
  error?: string;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.env.BENCH_FANOUT ?? '') as FanOutRequest;
  const booting = performance.now();
  @Module({
    imports: [
      MikroTenancyModule.forRoot({
        tenancy: {
          isolation: 'schema',
          config: migrationConfig(request.url),
          store: TenantStores.static(request.tenantIds),
          schemaName: (tenant) => tenantSchemaName(tenant.id),
        },
      }),
    ],
  })
  class FanOutModule {}
  const app = await NestFactory.createApplicationContext(FanOutModule, { logger: ['error'] });
  const bootMs = performance.now() - booting;
  try {
    const started = performance.now();
    const report = await app.get(TenantLifecycle).migrate({ concurrency: request.concurrency });
    const outcome: FanOutOutcome = {
      ok: report.ok,
      tenants: report.tenants.length,
      migrated: report.counts.migrated,
      failed: report.counts.failed,
      migrateMs: Math.round(performance.now() - started),
      bootMs: Math.round(bootMs),
      error: report.tenants.find((t) => t.error)?.error,
    };
    process.send?.(outcome);
  } finally {
    await app.close();
  }
}

main().then(
  () => process.disconnect?.(),
  (error: unknown) => {
    process.send?.({ ok: false, tenants: 0, migrated: 0, failed: 0, migrateMs: 0, bootMs: 0, error: String(error) } satisfies FanOutOutcome);
    process.exitCode = 1;
  },
);
